"""Faults (issue 14, part 6): what breaks underneath the proxy and the API, and what a client sees.

A service killed with requests in flight, the server killed during an update, scale-to-zero and
wake cycles under a steady stream of requests, and every kind of change to one service at once.
Real servers, real processes, real requests; processes are found by the ``JUPYTER_SVC_NAME``
every process of a service carries. (A crash loop ending ``failed`` with backoff and its last log
lines is tests/test_lifecycle.py::test_crash_loop_ends_failed_with_logs and
tests/test_exhaustion.py::test_a_failed_service_answers_at_once_and_wakes_with_backoff; an
unwritable state folder is tests/test_state_on_disk.py.)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import signal
import threading
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import echo_command, wait_for_state, web_command
from notebook_helpers.server import LiveServer, live_server
from test_no_orphans import gone, processes_of
from tornado.httpclient import AsyncHTTPClient, HTTPRequest


@pytest.fixture
def fetch(jp_http_port, jp_base_url, jp_auth_header):
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"

    async def call(path: str, client: AsyncHTTPClient | None = None, **kwargs: Any):
        kwargs.setdefault("request_timeout", 60)
        request = HTTPRequest(base + path, headers=jp_auth_header, **kwargs)
        return await (client or AsyncHTTPClient()).fetch(request, raise_error=False)

    return call


async def pid_of(fetch, name: str) -> int:
    response = await fetch(f"svc/{name}/pid")
    assert response.code == 200, response.body
    return int(json.loads(response.body)["pid"])


async def test_kill_9_with_requests_in_flight(api, fetch):
    """In-flight requests fail with a clear 502 naming the service; the restart policy brings it
    back (``restarts`` counts it) and the next requests succeed."""
    code, view = await api("POST", "services", {"name": "victim", "command": web_command()}, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    pid = await pid_of(fetch, "victim")
    client = AsyncHTTPClient(force_instance=True, max_clients=20)
    in_flight = [asyncio.ensure_future(fetch("svc/victim/slow?seconds=20", client=client)) for _ in range(8)]
    await asyncio.sleep(1.0)  # all eight are at the app, waiting for its answer
    os.kill(pid, signal.SIGKILL)
    answers = await asyncio.wait_for(asyncio.gather(*in_flight), 30)
    for answer in answers:
        assert answer.code in (502, 503), (answer.code, answer.body)
        assert json.loads(answer.body)["service"] == "victim" and json.loads(answer.body)["message"]
    assert Counter(a.code for a in answers)[502] >= 1
    deadline = asyncio.get_running_loop().time() + 30
    while True:  # later requests are held through the restart, or answered once it is back
        response = await fetch("svc/victim/after")
        if response.code == 200:
            break
        assert response.code in (502, 503) and asyncio.get_running_loop().time() < deadline, response.body
        await asyncio.sleep(0.1)
    assert json.loads(response.body)["pid"] != pid
    view = await wait_for_state(api, "victim", {"ready"})
    assert view["status"]["restarts"] >= 1 and view["status"]["last_exit_code"] == -signal.SIGKILL, view
    codes = Counter([(await fetch("svc/victim/again")).code for _ in range(20)])
    assert codes == Counter({200: 20}), codes
    client.close()


@pytest.mark.parametrize("svc_config", [{"drain_timeout": 5.0}])
async def test_ten_scale_to_zero_cycles_under_a_steady_stream_lose_nothing(api, fetch, svc_config):
    """1,000 requests, four at a time, while the service is scaled to zero ten times: each
    request is answered 200, by one of at least eleven processes (each wake a new one)."""
    code, view = await api("POST", "services", {"name": "cycler", "command": echo_command()}, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    total, streams = 1000, 4
    done: list[Any] = []
    client = AsyncHTTPClient(force_instance=True, max_clients=streams)

    async def stream(index: int) -> None:
        for i in range(index, total, streams):
            done.append(await fetch(f"svc/cycler/r{i}", client=client))

    async def cycles() -> int:
        scaled = 0
        for cycle in range(1, 11):
            while len(done) < cycle * total // 12:
                await asyncio.sleep(0.02)
            code, view = await api("POST", "services/cycler/scale", {"replicas": 0}, wait=30)
            assert code == 200 and view["status"]["state"] in ("scaled_to_zero", "starting", "ready"), view
            scaled += 1
        return scaled

    results = await asyncio.wait_for(asyncio.gather(*(stream(i) for i in range(streams)), cycles()), 240)
    assert results[-1] == 10
    codes = Counter(r.code for r in done)
    assert codes == Counter({200: total}), {c: n for c, n in codes.items()} | {
        "first failure": next((r.body[:300] for r in done if r.code != 200), b"")}
    pids = {json.loads(r.body)["pid"] for r in done}
    assert len(pids) >= 11, pids  # ten wakes: a process each
    client.close()


def _changes(name: str) -> list[tuple[str, str, Any]]:
    return [("PUT", f"services/{name}", {"command": echo_command("--version", "2")}),
            ("PATCH", f"services/{name}", {"description": "patched"}),
            ("POST", f"services/{name}/restart", None),
            ("POST", f"services/{name}/scale", {"replicas": 0}),
            ("POST", f"services/{name}/scale", {"replicas": 1}),
            ("POST", f"services/{name}/disable", None),
            ("POST", f"services/{name}/enable", None)]


async def consistent(api, state_dir: Path, name: str) -> str:
    """The service's state once settled: the stored spec is the one served, and the processes
    running are those of one instance at most (none unless it is ready)."""
    code, view = await api("GET", f"services/{name}")
    if code == 404:
        await gone(processes_of(name), timeout=15)
        assert not processes_of(name) and not (state_dir / "services" / f"{name}.json").exists()
        return "deleted"
    view = await wait_for_state(api, name, {"ready", "scaled_to_zero", "disabled", "failed"}, timeout=60)
    stored = json.loads((state_dir / "services" / f"{name}.json").read_text())
    assert stored["spec"] == view["spec"], (stored["spec"], view["spec"])
    state = view["status"]["state"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while True:  # an instance that was replaced or stopped may take its grace to go
        running = processes_of(name)
        if len(running) == (1 if state == "ready" else 0):
            break
        assert loop.time() < deadline, (state, running)
        await asyncio.sleep(0.1)
    return state


@pytest.mark.parametrize("svc_config", [{"stop_grace": 1.0}])
async def test_concurrent_changes_of_one_service_are_serialized(api, svc_state_dir, svc_config):
    """Update, patch, restart, scale, disable, enable and delete of one service at once, in a
    different order each round: each is answered (never a 500), the end state is one of theirs,
    what is stored is what is served, and no process is left beyond one instance."""
    rng = random.Random(14)
    name = f"busy-{secrets.token_hex(3)}"  # processes are told apart by name: unique on a shared machine
    ends: Counter[str] = Counter()
    for round_ in range(6):
        code, view = await api("PUT", f"services/{name}", {"command": echo_command("--version", "1")}, wait=30)
        assert code in (200, 201), view
        await wait_for_state(api, name, {"ready"})
        changes = _changes(name) + ([("DELETE", f"services/{name}", None)] if round_ % 2 else [])
        rng.shuffle(changes)
        answers = await asyncio.gather(*(api(method, path, body, wait=30) if method != "DELETE"
                                         else api(method, path) for method, path, body in changes))
        codes = {}
        for (method, path, _), (code, body) in zip(changes, answers, strict=True):
            assert code in (200, 201, 202, 204, 404, 409), (method, path, code, body)  # a 404 once it was deleted
            codes[method] = code
        end = await consistent(api, svc_state_dir, name)
        # deleted, unless the PUT came after the delete and created it again (its 201 says so)
        assert (end == "deleted") is (codes.get("DELETE") == 204 and codes["PUT"] != 201), (changes, answers, end)
        ends[end] += 1
    assert ends["deleted"] >= 1, ends
    code, _ = await api("DELETE", f"services/{name}")
    assert code in (204, 404)
    await gone(processes_of(name), timeout=15)


def _request(server: LiveServer, method: str, path: str, body: Any = None, timeout: float = 60) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else (b"{}" if method in ("POST", "PUT") else None)
    request = urllib.request.Request(server.url + "svc/api/" + path, data=data, method=method,
                                     headers={"Authorization": f"token {server.token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


async def test_kill_9_of_the_server_during_an_update(tmp_path: Path):
    """The server dies while the new version of a service is starting (its PUT unanswered): a new
    server on the same folder has every spec back, the update included (it was stored before it
    took effect), runs each service once, and leaves no process of the dead one."""
    names = [f"keep{i}-{secrets.token_hex(3)}" for i in range(3)]
    first = names[0]
    with live_server(tmp_path) as server:
        for name in names:
            code, view = await asyncio.to_thread(_request, server, "POST", "services?wait=30",
                                                 {"name": name, "command": echo_command("--version", "1")})
            assert code == 201 and view["status"]["state"] == "ready", view
        before = {name: processes_of(name) for name in names}
        assert all(len(found) == 1 for found in before.values()), before
        await asyncio.sleep(0.5)  # the instances' records are written off the wake path
        slow_update = {"command": echo_command("--version", "2", "--delay", "30")}  # listens after 30 s
        unanswered: list[BaseException] = []

        def update() -> None:
            try:
                _request(server, "PUT", f"services/{first}?wait=60", slow_update)
            except OSError as exc:  # the server died under it: no answer, as expected
                unanswered.append(exc)

        updating = threading.Thread(target=update, daemon=True)
        updating.start()
        deadline = asyncio.get_running_loop().time() + 20
        while len(processes_of(first)) < 2:  # the new version runs beside the old one
            assert asyncio.get_running_loop().time() < deadline, processes_of(first)
            await asyncio.sleep(0.05)
        everything = {pid: created for found in before.values() for pid, created in found.items()}
        everything.update(processes_of(first))
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        updating.join(30)
        assert unanswered, "the update was answered before the kill: the test shows nothing"
    with live_server(tmp_path) as server:  # the same folder: it stops what the dead one left
        await gone(everything, timeout=30)
        code, listed = await asyncio.to_thread(_request, server, "GET", "services")
        assert code == 200 and sorted(v["name"] for v in listed["services"]) == names, listed
        specs = {v["name"]: v["spec"]["command"] for v in listed["services"]}
        assert specs[first] == slow_update["command"], specs  # durable before it took effect
        assert all(specs[name] == echo_command("--version", "1") for name in names[1:]), specs
        for name in names[1:]:
            await asyncio.to_thread(_request, server, "POST", f"services/{name}/wake?wait=30")
            code, view = await asyncio.to_thread(_request, server, "GET", f"services/{name}")
            assert view["status"]["state"] == "ready", view
            assert len(processes_of(name)) == 1 and not set(processes_of(name)) & set(everything)
        code, _ = await asyncio.to_thread(_request, server, "DELETE", f"services/{first}")
        assert code == 204
        left = {pid: created for name in names for pid, created in processes_of(name).items()}
    await gone(left, timeout=30)  # and a normal shutdown leaves none either
    assert not any(processes_of(name) for name in names)


async def test_a_restarted_server_lists_its_services_from_its_first_answer(tmp_path: Path):
    """A server answers before its extensions start, and the restore first stops what a killed
    predecessor left (a child that ignores SIGTERM takes the whole ``stop_grace``): until then the
    list was empty and the service's URL a 404. Requests now wait for the restore."""
    from test_no_orphans import tree_command

    name = f"early-{secrets.token_hex(3)}"
    config = {"stop_grace": 4.0}
    with live_server(tmp_path, svc_config=config) as server:
        code, view = await asyncio.to_thread(_request, server, "POST", "services?wait=30",
                                             {"name": name, "command": tree_command(), "shell": True})
        assert code == 201 and view["status"]["state"] == "ready", view
        await asyncio.sleep(0.5)  # the instance's record is written off the wake path
        left = processes_of(name)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
    with live_server(tmp_path, svc_config=config) as server:  # up: its first API answer came
        code, listed = await asyncio.to_thread(_request, server, "GET", "services")
        assert code == 200 and [v["name"] for v in listed["services"]] == [name], listed
        await gone(left, timeout=30)
    await gone(processes_of(name), timeout=30)
