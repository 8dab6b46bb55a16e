"""A service's whole life through the REST API of a real Jupyter server, with real processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid

import psutil
from conftest import echo_command, wait_for_state
from tornado.httpclient import AsyncHTTPClient


def processes_with(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any(marker in part for part in cmdline) and proc.status() != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


async def no_process_left(marker: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while processes_with(marker):
        assert asyncio.get_running_loop().time() < deadline, f"still running: {processes_with(marker)}"
        await asyncio.sleep(0.05)


async def get_direct(endpoint: str, path: str = "/") -> dict:
    response = await AsyncHTTPClient().fetch(endpoint + path)
    return json.loads(response.body)


async def test_full_life(api):
    marker = f"life-{uuid.uuid4().hex[:8]}"
    spec = {"name": "life", "command": echo_command("--version", marker), "env": {"DEMO_GREETING": "hi {name}"}}
    code, view = await api("POST", "services", spec, wait=20)
    assert code == 201, view
    status = view["status"]
    assert status["state"] == "ready" and status["replicas_ready"] == 1
    assert status["url"].endswith("svc/life/")
    seen = await get_direct(status["endpoint"])
    assert seen["version"] == marker
    assert seen["env"]["DEMO_GREETING"] == "hi life"
    assert seen["env"]["JUPYTER_SVC_BASE_URL"] == status["url"]
    assert "JUPYTER_SVC_TOKEN" not in seen["env"]
    first_pid = seen["pid"]

    # POST of an existing name is a conflict, and changes nothing
    code, body = await api("POST", "services", spec)
    assert code == 409 and "exists" in body["message"]

    # update: a runtime change makes a new instance with the new spec live
    marker2 = marker + "-v2"
    code, view = await api("PATCH", "services/life", {"command": echo_command("--version", marker2)}, wait=20)
    assert code == 200, view
    assert view["status"]["generation"] == 2 and view["status"]["state"] == "ready"
    seen = await get_direct(view["status"]["endpoint"])
    assert seen["version"] == marker2 and seen["pid"] != first_pid
    await no_process_left(marker + " ")  # the old version is gone (its argv ends with the old marker)
    assert not [p for p in processes_with(marker) if p.cmdline()[-1] == marker]

    # a change that needs no restart applies in place
    code, view = await api("PATCH", "services/life", {"description": "hello"}, wait=5)
    assert code == 200 and view["spec"]["description"] == "hello"
    assert (await get_direct(view["status"]["endpoint"]))["pid"] == seen["pid"]

    # restart
    code, view = await api("POST", "services/life/restart", wait=20)
    assert code == 200 and view["status"]["state"] == "ready", view
    restarted = await get_direct(view["status"]["endpoint"])
    assert restarted["pid"] != seen["pid"]

    # scale to zero: no process left; back to one
    code, view = await api("POST", "services/life/scale", {"replicas": 0}, wait=10)
    assert code == 200 and view["status"]["state"] == "scaled_to_zero", view
    assert view["spec"]["desired_state"] == "scaled_to_zero"
    await no_process_left(marker)
    code, view = await api("POST", "services/life/scale", {"replicas": 1}, wait=20)
    assert code == 200 and view["status"]["state"] == "ready", view
    assert (await get_direct(view["status"]["endpoint"]))["version"] == marker2

    # disable / enable
    code, view = await api("POST", "services/life/disable", wait=10)
    assert view["status"]["state"] == "disabled"
    await no_process_left(marker)
    code, body = await api("POST", "services/life/restart")
    assert code == 409 and "disabled" in body["message"]
    code, view = await api("POST", "services/life/enable", wait=20)
    assert view["status"]["state"] == "ready", view

    # logs
    code, text = await api("GET", "services/life/logs", tail=50)
    assert code == 200 and f"echo app version {marker2} listening" in text

    # delete: nothing left, and the name is free again
    code, _ = await api("DELETE", "services/life")
    assert code == 204
    await no_process_left(marker)
    code, body = await api("GET", "services/life")
    assert code == 404 and "life" in body["message"]


async def test_kill_9_restarts(api):
    marker = f"kill-{uuid.uuid4().hex[:8]}"
    code, view = await api("POST", "services", {"name": "victim", "command": echo_command("--version", marker)},
                           wait=20)
    assert view["status"]["state"] == "ready"
    pid = (await get_direct(view["status"]["endpoint"]))["pid"]
    os.kill(pid, signal.SIGKILL)
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        code, view = await api("GET", "services/victim")
        status = view["status"]
        if status["state"] == "ready" and status["restarts"] >= 1:
            break
        assert asyncio.get_running_loop().time() < deadline, status
        await asyncio.sleep(0.05)
    assert status["last_exit_code"] == -signal.SIGKILL
    assert (await get_direct(status["endpoint"]))["pid"] != pid


ONE_SHOT = (
    "import socket,sys,time\n"
    "s=socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
    "c,_=s.accept(); c.recv(100); c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n'); c.close()\n"
    "print('boom: database unreachable', flush=True); time.sleep(0.2); sys.exit(int(sys.argv[2]))\n"
)


async def test_exit_zero_restarts_with_policy_always(api):
    """Unlike jupyter-server-proxy, a process that exits with 0 comes back under `always`."""
    spec = {"name": "blinker", "command": [sys.executable, "-c", ONE_SHOT, "{port}", "0"]}
    await api("POST", "services", spec)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        _, view = await api("GET", "services/blinker")
        if view["status"]["restarts"] >= 2:
            break
        assert asyncio.get_running_loop().time() < deadline, view["status"]
        await asyncio.sleep(0.05)
    assert view["status"]["last_exit_code"] == 0


async def test_exit_zero_under_on_failure_rests_at_zero(api):
    spec = {"name": "oneshot", "restart_policy": "on-failure",
            "command": [sys.executable, "-c", ONE_SHOT, "{port}", "0"]}
    await api("POST", "services", spec)
    view = await wait_for_state(api, "oneshot", {"scaled_to_zero"})
    assert view["status"]["restarts"] == 0 and "not restarted" in view["status"]["message"]


async def test_crash_loop_ends_failed_with_logs(api):
    spec = {"name": "crasher", "command": [sys.executable, "-c", ONE_SHOT, "{port}", "3"]}
    code, view = await api("POST", "services", spec)
    assert code in (201, 202)
    view = await wait_for_state(api, "crasher", {"failed"}, timeout=60)
    status = view["status"]
    assert "crash loop" in status["message"]
    assert "boom: database unreachable" in status["message"]
    assert status["last_exit_code"] == 3
    assert status["restarts"] >= 5


async def test_never_ready_is_failed_with_logs(api):
    script = "import time; print('listening nowhere', flush=True); time.sleep(60)"
    spec = {"name": "mute", "command": [sys.executable, "-c", script], "readiness": {"timeout": "1s"}}
    code, view = await api("POST", "services", spec, wait=20)
    assert view["status"]["state"] == "failed", view
    assert "not ready after 1s" in view["status"]["message"]
    assert "listening nowhere" in view["status"]["message"]
    await no_process_left("listening nowhere")


async def test_failed_update_keeps_previous_version(api):
    marker = f"keep-{uuid.uuid4().hex[:8]}"
    await api("POST", "services", {"name": "keeper", "command": echo_command("--version", marker)}, wait=20)
    bad = {"command": [sys.executable, "-c", "print('cannot start: missing config', flush=True); raise SystemExit(2)"],
           "readiness": {"timeout": "3s"}}
    code, body = await api("PATCH", "services/keeper", bad, wait=20)
    assert code == 503, body
    assert "previous version is still running" in body["message"]
    assert "missing config" in body["message"]
    code, view = await api("GET", "services/keeper")
    assert view["status"]["state"] == "ready"
    assert view["spec"]["command"][-1] == marker  # the stored spec is still the old one
    assert (await get_direct(view["status"]["endpoint"]))["version"] == marker


async def test_shell_and_templating(api, tmp_path):
    spec = {"name": "shelly", "shell": True, "cwd": str(tmp_path),
            "command": f"echo started in $(pwd) && exec {sys.executable} {echo_command()[1]} {{port}} --version sh"}
    code, view = await api("POST", "services", spec, wait=20)
    assert view["status"]["state"] == "ready", view
    code, text = await api("GET", "services/shelly/logs")
    assert f"started in {tmp_path}" in text


async def test_logs_follow_streams(api, jp_fetch):
    script = "import time\nfor i in range(1000):\n    print('tick', i, flush=True); time.sleep(0.05)\n"
    await api("POST", "services", {"name": "ticker", "command": [sys.executable, "-c", script],
                                   "readiness": {"timeout": "60s"}})
    chunks: list[bytes] = []
    done = asyncio.Event()

    def on_chunk(chunk: bytes) -> None:
        chunks.append(chunk)
        if b"tick 5\n" in b"".join(chunks):
            done.set()

    fetch = asyncio.ensure_future(jp_fetch("svc", "api", "services", "ticker", "logs",
                                           params={"follow": "1", "tail": "0"},
                                           streaming_callback=on_chunk, request_timeout=30))
    await asyncio.wait_for(done.wait(), 20)
    fetch.cancel()
    assert b"tick 5\n" in b"".join(chunks)
