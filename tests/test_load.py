"""Load (issue 14, part 6): many services created at once, all at zero, woken together.

200 services (``JUPYTER_SVC_LOAD_SERVICES``) of a tiny Python HTTP app are created at once at zero,
then 400 concurrent requests (two per service) wake every one of them: no request fails, each
service started once, and once they are deleted no process of theirs is left. The durations and
the server's RSS before and after are printed for the record, not asserted. A real
``jupyter server`` in a child process, so the client's load is not on the server's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections import Counter

import psutil
from conftest import echo_command
from notebook_helpers.server import LiveServer, live_server
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

SERVICES = int(os.environ.get("JUPYTER_SVC_LOAD_SERVICES", "200"))
REQUESTS_PER_SERVICE = 2


def running_services(names: set[str]) -> Counter[str]:
    """How many live processes each of ``names`` has, in one pass over the process table."""
    found: Counter[str] = Counter()
    for proc in psutil.process_iter():
        try:
            name = proc.environ().get("JUPYTER_SVC_NAME")
            if name in names and proc.status() != psutil.STATUS_ZOMBIE:
                found[name] += 1
        except psutil.Error:
            continue
    return found


def rss_mb(server: LiveServer) -> float:
    return psutil.Process(server.process.pid).memory_info().rss / 2**20


async def call(client: AsyncHTTPClient, server: LiveServer, method: str, path: str,
               body: object = None) -> tuple[int, bytes]:
    request = HTTPRequest(server.url + path, method=method, request_timeout=120,
                          headers={"Authorization": f"token {server.token}"},
                          body=json.dumps(body) if body is not None else ("{}" if method == "POST" else None))
    response = await client.fetch(request, raise_error=False)
    return response.code, response.body or b""


async def test_many_services_woken_at_once(tmp_path):
    prefix = f"load{secrets.token_hex(2)}"
    names = [f"{prefix}-{i}" for i in range(SERVICES)]
    client = AsyncHTTPClient(force_instance=True, max_clients=SERVICES * REQUESTS_PER_SERVICE)
    with live_server(tmp_path, svc_config={"readiness_timeout": 120.0}) as server:
        rss_before = rss_mb(server)
        started = time.monotonic()
        created = await asyncio.gather(*(call(client, server, "POST", "svc/api/services", {
            "name": name, "command": echo_command(), "desired_state": "scaled_to_zero"}) for name in names))
        create_s = time.monotonic() - started
        assert Counter(code for code, _ in created) == Counter({201: SERVICES}), created[:3]
        assert not running_services(set(names))  # all at zero

        started = time.monotonic()
        woken = await asyncio.gather(*(call(client, server, "GET", f"svc/{name}/hello/{i}")
                                       for i in range(REQUESTS_PER_SERVICE) for name in names))
        wake_s = time.monotonic() - started
        codes = Counter(code for code, _ in woken)
        assert codes == Counter({200: len(woken)}), (codes, next(b for c, b in woken if c != 200)[:300])
        pids: dict[str, set[int]] = {}
        for (_, body), name in zip(woken, [n for _ in range(REQUESTS_PER_SERVICE) for n in names], strict=True):
            pids.setdefault(name, set()).add(json.loads(body)["pid"])
        assert all(len(found) == 1 for found in pids.values()), pids  # one start per service
        assert sum(running_services(set(names)).values()) == SERVICES
        rss_woken = rss_mb(server)

        started = time.monotonic()
        deleted = await asyncio.gather(*(call(client, server, "DELETE", f"svc/api/services/{name}") for name in names))
        delete_s = time.monotonic() - started
        assert Counter(code for code, _ in deleted) == Counter({204: SERVICES}), deleted[:3]
        deadline = time.monotonic() + 60
        while left := running_services(set(names)):
            assert time.monotonic() < deadline, left
            await asyncio.sleep(0.2)
        rss_after = rss_mb(server)
    client.close()
    print(f"\nload: {SERVICES} services created in {create_s:.1f}s, woken by {len(woken)} concurrent requests "
          f"in {wake_s:.1f}s (0 failures), deleted in {delete_s:.1f}s; server RSS {rss_before:.0f} MB before, "
          f"{rss_woken:.0f} MB with all running, {rss_after:.0f} MB after deleting them", file=sys.stderr)


def test_finding_an_instance_reads_no_other_instance_s_environment(monkeypatch):
    """``members`` looks for orphans among the server's children by their environment's marker;
    the other instances' roots are known and skipped (with 200 services, a mass delete read
    80,000 environments on the event loop: 14 s, now 8 s). Real child processes; the count of
    environment reads is taken by wrapping the one function that reads them."""
    import subprocess

    from jupyter_svc.backends.local import tracking

    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) for _ in range(20)]
    reads: list[int] = []
    real = tracking._marker_of
    monkeypatch.setattr(tracking, "_marker_of", lambda proc: reads.append(proc.pid) or real(proc))
    try:
        tracking.members("no-such-instance", None)
        unknown = len(reads)
        assert unknown >= len(children)  # unknown children: each one's environment is read
        reads.clear()
        tracking.ROOTS.update(child.pid for child in children)
        tracking.members("no-such-instance", None)
        assert not set(reads) & {child.pid for child in children}, reads
    finally:
        tracking.ROOTS.difference_update(child.pid for child in children)
        for child in children:
            child.kill()
            child.wait()
