"""Cold start: a backend's own start-to-ready against the first request through jupyter-svc at zero.

Measured in pairs: each repetition starts the backend by itself (same argv, same port kind) and
then wakes the service through the proxy, with the same client for both (one blocking socket,
one ``GET``, time to the status line), so the difference of a pair is the overhead and the app's
own start-time noise largely cancels. For a backend on a fixed port, a floor follows each pair:
the same two requests once the app is up (direct, then through jupyter-svc, each on a new
connection after the same pause), what a first request costs the proxy without any wake.
Two backends:

* ``nginx``: starts in about 10 ms with little spread, so a few ms of overhead are visible;
* ``web_app`` (tests/apps/web_app.py, aiohttp): a realistic Python app, whose own start swings by
  ~100 ms between runs here, far more than the overhead being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from clients import api
from harness import free_port, log, median

NGINX_CONF = """daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {dir}/b; proxy_temp_path {dir}/p; fastcgi_temp_path {dir}/f;
  uwsgi_temp_path {dir}/u; scgi_temp_path {dir}/s;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok\\n"; }} }}
}}
"""


@dataclass
class ColdBackend:
    """One app to start: the spec jupyter-svc runs, and how to run the same thing by hand."""

    name: str
    spec: dict[str, Any]
    argv: list[str]  # for the by-hand start; "{port}" is filled in
    fixed_port: int | None = None

    def own_argv(self, port: int) -> list[str]:
        return [a.replace("{port}", str(port)) for a in self.argv]


def nginx_backend(tmp: Path, name: str = "cold-nginx") -> ColdBackend:
    """nginx on a fixed port (its config names the port); the service and the by-hand start
    take turns on it, never at the same time."""
    home = tmp / name
    home.mkdir()
    port = free_port()
    conf = home / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=home, port=port))
    argv = ["nginx", "-c", str(conf), "-p", str(home)]
    return ColdBackend(name, {"name": name, "command": argv, "port": port}, argv, port)


def web_app_backend(python: str, web_app: Path) -> ColdBackend:
    argv = [python, str(web_app), "{port}"]
    return ColdBackend("cold-web", {"name": "cold-web", "command": argv}, argv)


def first_answer(port: int, path: str, headers: dict[str, str], timeout: float = 120) -> tuple[int, float]:
    """Status and milliseconds of one GET on a new connection, up to the status line."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        line = sock.recv(16)
    ms = (time.perf_counter() - t0) * 1e3
    return (int(line[9:12]) if line.startswith(b"HTTP/1.") and line[9:12].isdigit() else -1), ms


#: What the local backend puts before every command where util-linux is there (backends/local/backend.py):
#: the app gets SIGTERM if the server dies. Its own exec is part of every start through jupyter-svc.
SETPRIV = [path, "--pdeathsig", "TERM", "--"] if (path := shutil.which("setpriv")) else []


def own_start(backend: ColdBackend, prefix: list[str] | None = None) -> float:
    """Spawn the backend by hand and poll it every 1 ms: milliseconds from spawn to first answer."""
    port = backend.fixed_port or free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([*(prefix or []), *backend.own_argv(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        while True:
            with contextlib.suppress(OSError):
                if first_answer(port, "/", {}, timeout=1)[0] > 0:
                    return (time.perf_counter() - t0) * 1e3
            if proc.poll() is not None:
                raise RuntimeError(f"{backend.name} exited during its own start")
            time.sleep(0.001)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def scale_to_zero(session: aiohttp.ClientSession, base: str, name: str) -> None:
    # After a wake the spec still says desired_state=scaled_to_zero, and `scale 0` on it is a no-op
    # that leaves the woken instance running; going through `scale 1` first makes `scale 0` stop it.
    for replicas in (1, 0):
        code, view = await api(session, base, "POST", f"services/{name}/scale", {"replicas": replicas}, wait=30)
        assert code in (200, 202), (code, view)
    for _ in range(300):
        code, view = await api(session, base, "GET", f"services/{name}")
        if view["status"]["state"] == "scaled_to_zero":
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{name} did not reach scaled_to_zero: {view['status']}")


async def concurrent_first_requests(base: str, token: str, name: str, n: int) -> dict[str, Any]:
    """n concurrent first requests to a service at zero; wall time to the last answer."""
    headers = {"Authorization": f"token {token}", "Accept": "application/json"}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async def one(i: int) -> tuple[int, str, float]:
            t0 = time.perf_counter()
            try:
                async with session.get(f"{base}svc/{name}/cold/{i}", timeout=aiohttp.ClientTimeout(total=120)) as r:
                    await r.read()
                    return r.status, r.headers.get("X-Svc-Cold-Start", ""), (time.perf_counter() - t0) * 1e3
            except Exception as exc:
                return -1, repr(exc), (time.perf_counter() - t0) * 1e3

        t0 = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(n)))
        wall = (time.perf_counter() - t0) * 1e3
    return {"wall_ms": wall, "ok": sum(1 for s, _, _ in results if s == 200),
            "failed": sum(1 for s, _, _ in results if s != 200),
            "cold_header": sum(1 for _, c, _ in results if c == "true"),
            "max_ms": max(ms for _, _, ms in results), "statuses": sorted({s for s, _, _ in results})}


def pair(label: str, own: float, through: float, status: int, view: dict[str, Any]) -> dict[str, Any]:
    """One paired measurement (own start, first request through jupyter-svc), logged as it comes."""
    log(f"  {label}: own start {own:7.1f} ms, through jupyter-svc {through:7.1f} ms "
        f"(+{through - own:5.1f}; server {view['status']['last_cold_start_ms']} ms) status {status}")
    return {"own_ms": own, "svc_ms": through, "overhead_ms": through - own, "status": status,
            "server_ms": view["status"]["last_cold_start_ms"], "steps": view["status"].get("last_cold_start_steps", {})}


async def measure(session: aiohttp.ClientSession, base: str, svc_port: int, token: str, backend: ColdBackend,
                  reps: int, bursts: int) -> dict[str, Any]:
    """``reps`` pairs (own start, then one request through jupyter-svc) and ``bursts`` of 100."""
    code, view = await api(session, base, "POST", "services", backend.spec, wait=60)
    assert code == 201 and view["status"]["state"] == "ready", (code, view)
    await asyncio.to_thread(own_start, backend)  # warm the page cache for the app's files
    headers = {"Authorization": f"token {token}", "Accept": "*/*"}
    pairs: list[dict[str, Any]] = []
    for rep in range(reps):
        await scale_to_zero(session, base, backend.name)
        # the app's own start as the local backend runs it, behind setpriv's exec (while at zero:
        # a fixed port is free only then), before or after the plain one by turns (the first
        # start after a pause is the slower)
        setpriv = None
        if SETPRIV and rep % 2 == 0:
            setpriv = await asyncio.to_thread(own_start, backend, SETPRIV)
        own = await asyncio.to_thread(own_start, backend)
        if SETPRIV and rep % 2 == 1:
            setpriv = await asyncio.to_thread(own_start, backend, SETPRIV)
        await asyncio.sleep(0.2)
        status, through = await asyncio.to_thread(first_answer, svc_port, f"/svc/{backend.name}/", headers)
        _, view = await api(session, base, "GET", f"services/{backend.name}")
        pairs.append(pair(backend.name, own, through, status, view))
        if setpriv is not None:
            pairs[-1]["own_setpriv_ms"] = setpriv
        if backend.fixed_port:  # the floor: the same requests once the app is up, no wake in them
            await asyncio.sleep(0.2)
            _, direct = await asyncio.to_thread(first_answer, backend.fixed_port, "/", {})
            await asyncio.sleep(0.2)
            _, warm = await asyncio.to_thread(first_answer, svc_port, f"/svc/{backend.name}/", headers)
            pairs[-1]["floor_ms"] = warm - direct
    burst: list[dict[str, Any]] = []
    for _ in range(bursts):
        await scale_to_zero(session, base, backend.name)
        own = await asyncio.to_thread(own_start, backend)
        _, before = await api(session, base, "GET", f"services/{backend.name}")
        await asyncio.sleep(0.2)
        r = await concurrent_first_requests(base, token, backend.name, 100)
        _, view = await api(session, base, "GET", f"services/{backend.name}")
        r.update(own_ms=own, overhead_ms=r["wall_ms"] - own,
                 starts=view["status"]["cold_starts"] - before["status"]["cold_starts"])
        burst.append(r)
        log(f"  {backend.name}: 100 concurrent: ok {r['ok']} failed {r['failed']} starts {r['starts']} "
            f"cold headers {r['cold_header']} last answer {r['wall_ms']:.1f} ms (own start {own:.1f} ms)")
    await scale_to_zero(session, base, backend.name)
    floors = [p["floor_ms"] for p in pairs if "floor_ms" in p]
    setpriv = [p["own_setpriv_ms"] - p["own_ms"] for p in pairs if "own_setpriv_ms" in p]
    return {"pairs": pairs, "burst": burst, "floor_ms": median(floors) if floors else None,
            "setpriv_ms": median(setpriv) if setpriv else None,
            "overhead_ms": median([p["overhead_ms"] for p in pairs]),
            "burst_overhead_ms": median([b["overhead_ms"] for b in burst]) if burst else None}
