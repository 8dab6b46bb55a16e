"""Processes (issue 14, part 4): every process a service starts is stopped, whatever it does.

A service that forks an app behind a shell, leaves its process group (``setsid``) and starts a
child that ignores SIGTERM; stop, delete, a normal shutdown and a restart after kill -9 of the
server leave none of them running (checked with psutil, real processes throughout).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
from conftest import wait_for_state
from notebook_helpers.server import live_server

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(1000)"


def tree_command() -> str:
    """A shell that serves with a child, plus a setsid child and one that ignores SIGTERM."""
    python = sys.executable
    return (f"{python} -m http.server {{port}} --bind 127.0.0.1 & setsid sleep 1000 & "
            f"{python} -c '{IGNORES_TERM}' & wait")


def processes_of(name: str) -> dict[int, float]:
    """pid -> create time of every live process started for service ``name`` (its environment says)."""
    out: dict[int, float] = {}
    for proc in psutil.process_iter():
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and proc.environ().get("JUPYTER_SVC_NAME") == name:
                out[proc.pid] = proc.create_time()
        except psutil.Error:
            continue
    return out


def still_running(pids: dict[int, float]) -> list[str]:
    """The recorded processes that still run (same pid and create time: not a reused pid)."""
    out = []
    for pid, created in pids.items():
        try:
            proc = psutil.Process(pid)
            if abs(proc.create_time() - created) < 0.05 and proc.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{pid} {' '.join(proc.cmdline())}")
        except psutil.Error:
            continue
    return out


async def all_started(name: str, count: int = 4, timeout: float = 20) -> dict[int, float]:
    """Wait until the shell and its three children run (the shell starts them right after it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = processes_of(name)
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, found
        await asyncio.sleep(0.1)


async def gone(pids: dict[int, float], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while left := still_running(pids):
        assert time.monotonic() < deadline, f"still running: {left}"
        await asyncio.sleep(0.1)


async def test_stop_and_delete_leave_no_process(api, svc_state_dir):
    name = f"tree-{secrets.token_hex(3)}"
    code, body = await api("POST", "services", {"name": name, "command": tree_command(), "shell": True}, wait=30)
    assert code == 201 and body["status"]["state"] == "ready", body
    first = await all_started(name)
    code, body = await api("POST", f"services/{name}/scale", {"replicas": 0}, wait=30)
    assert code == 200 and body["status"]["state"] == "scaled_to_zero", body
    await gone(first, timeout=2)  # stop waited for every one of them (grace, then SIGKILL)

    code, body = await api("POST", f"services/{name}/wake", wait=30)
    assert code == 200 and body["status"]["state"] == "ready", body
    second = await all_started(name)
    log = svc_state_dir / "logs" / f"{name}.log"
    assert log.exists()
    code, _ = await api("DELETE", f"services/{name}")
    assert code == 204
    await gone(second, timeout=2)
    assert not log.exists()


async def test_deleting_a_service_at_zero_removes_its_log(api, svc_state_dir):
    """A service restored at zero has no open log in this server; its file from before still goes."""
    name = f"rest-{secrets.token_hex(3)}"
    log = svc_state_dir / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("lines from an earlier server\n")
    log.with_suffix(".log.1").write_text("older lines\n")
    code, body = await api("POST", "services", {"name": name, "command": tree_command(), "shell": True,
                                                "desired_state": "scaled_to_zero"}, wait=10)
    assert code == 201, body
    await wait_for_state(api, name, {"scaled_to_zero"})
    code, _ = await api("DELETE", f"services/{name}")
    assert code == 204
    assert not log.exists() and not log.with_suffix(".log.1").exists()


def post(url: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


async def test_a_restarted_server_stops_what_a_killed_one_left(tmp_path: Path):
    name = f"left-{secrets.token_hex(3)}"
    with live_server(tmp_path) as server:
        view = await asyncio.to_thread(post, server.url + "svc/api/services?wait=30", server.token,
                                       {"name": name, "command": tree_command(), "shell": True})
        assert view["status"]["state"] == "ready", view
        before = await all_started(name)
        await asyncio.sleep(0.5)  # the instance's record is written off the wake path
        server.process.kill()
        server.process.wait()
        await asyncio.sleep(1)
        survivors = still_running(before)
        assert survivors, "nothing outlived the server: the test shows nothing"  # the landed code left 3
    with live_server(tmp_path) as server:  # same folder: it finds and stops what the dead one left
        await gone(before, timeout=20)
        after = await all_started(name)  # ... and runs the service again
        assert not set(after) & set(before)
    await gone(after, timeout=20)  # a normal shutdown leaves nothing either (the setsid child included)


REAPER_CHECK = """
import os, subprocess, sys, time
import psutil
from jupyter_svc.backends.local.tracking import OrphanReaper, become_subreaper

assert become_subreaper()
reaper = OrphanReaper()
mine = subprocess.Popen(["sh", "-c", "sleep 0.6; exit 3"])  # the server's own child: never reaped
shell = subprocess.Popen(["sh", "-c", "sleep 0.5 & exec sleep 0.2"])  # leaves an orphan behind
time.sleep(0.1)
reaper.scan()  # sees the orphan-to-be below the shell
shell.wait()
time.sleep(1.0)  # the orphan, adopted, has exited: a zombie of this process; so has `mine`
def zombies():
    return sorted(p.pid for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE)
before = zombies()
assert len(before) == 2 and mine.pid in before, before  # the orphan and `mine`
assert reaper.scan() == 1
assert zombies() == [mine.pid], zombies()
assert mine.wait() == 3  # its exit code was left for its Popen
print("ok")
"""


def test_adopted_orphans_are_reaped_and_own_children_left_to_their_popen():
    """The subreaper collects orphans it adopted (a kernel's background job as much as a
    service's), never a child the server forked itself (that would steal its exit code)."""
    result = subprocess.run([sys.executable, "-c", REAPER_CHECK], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == "ok", result.stderr
