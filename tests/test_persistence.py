"""Specs survive server restarts and crashes mid-write."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import echo_command

from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceState, ServiceStatus
from jupyter_svc.services.store import STATUS_WRITE_DELAY, StorageFailed, Store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


async def test_second_server_restores_every_spec(api, svc_started, svc_state_dir, tmp_path):
    """The first server stops (it holds the state folder while it runs), a second one on the same
    folder restores every spec."""
    specs = [
        {"name": "alpha", "command": echo_command("--version", "restored"), "description": "a"},
        {"name": "beta", "command": echo_command(), "desired_state": "scaled_to_zero", "scale_to_zero": "5m"},
        {"name": "gamma", "command": echo_command(), "desired_state": "disabled", "labels": {"team": "ml"}},
        {"name": "ext", "url": "http://127.0.0.1:9/", "public": True},
    ]
    for spec in specs:
        code, body = await api("POST", "services", spec, wait=20)
        assert code == 201, body
    _, listing = await api("GET", "services")
    before = {v["name"]: v["spec"] for v in listing["services"]}
    for extension in svc_started.extension_manager.extension_apps["jupyter_svc"]:
        await extension.stop_extension()  # stops its services, releases the state folder

    port, token = free_port(), "restore-token"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
         "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         f"--SvcExtension.state_dir={svc_state_dir}", "--ServerApp.jpserver_extensions={'jupyter_svc': True}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
    )
    try:
        url = f"http://127.0.0.1:{port}/svc/api/services"
        deadline = time.monotonic() + 60
        while True:
            try:
                after = {v["name"]: v for v in (await asyncio.to_thread(get_json, url, token))["services"]}
                if after.get("alpha", {}).get("status", {}).get("state") == "ready":
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            assert time.monotonic() < deadline, after
            await asyncio.sleep(0.2)
        assert {n: v["spec"] for n, v in after.items()} == before
        assert after["beta"]["status"]["state"] == "scaled_to_zero"
        assert after["gamma"]["status"]["state"] == "disabled"
        assert after["ext"]["status"]["state"] == "ready"
        pid = (await asyncio.to_thread(get_json, after["alpha"]["status"]["endpoint"] + "/", token))["pid"]
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        assert not alive(pid), "a service outlived the server's shutdown"
    finally:
        if server.poll() is None:
            server.kill()


def post_json(request: urllib.request.Request) -> dict:
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_service_dies_with_a_crashed_server(tmp_path):
    """kill -9 of the server: no cleanup code runs, the kernel's parent-death signal still stops
    the service."""
    port, token = free_port(), "crash-token"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
         "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
         f"--SvcExtension.state_dir={tmp_path / 'state'}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}/svc/api/services"
        spec = json.dumps({"name": "orphan", "command": echo_command()}).encode()
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(base + "?wait=20", data=spec, method="POST",
                                                 headers={"Authorization": f"token {token}"})
                view = await asyncio.to_thread(post_json, request)
                break
            except OSError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
        pid = (await asyncio.to_thread(get_json, view["status"]["endpoint"] + "/", token))["pid"]
        server.kill()
        server.wait()
        deadline = time.monotonic() + 10
        while alive(pid):
            assert time.monotonic() < deadline, "the service survived its server"
            await asyncio.sleep(0.05)
    finally:
        if server.poll() is None:
            server.kill()


WRITER = textwrap.dedent("""
    import asyncio, sys
    from jupyter_svc.model.spec import ServiceSpec
    from jupyter_svc.model.status import ServiceStatus
    from jupyter_svc.services.store import Store

    async def main():
        store = Store(__import__("pathlib").Path(sys.argv[1]))
        i = 0
        print("writing", flush=True)
        while True:
            i += 1
            spec = ServiceSpec(name="svc", command=["x"], description="v" * (i % 5000), env={"I": str(i)})
            await store.save(spec, ServiceStatus(generation=i))
    asyncio.run(main())
""")


def test_kill_9_mid_write_never_tears_a_file(tmp_path: Path):
    """A writer killed at random moments leaves a readable spec every time (a real crash, no mocks)."""
    for attempt in range(8):
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE)
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == b"writing"
        time.sleep(0.05 + attempt * 0.037)
        writer.kill()
        writer.wait()
        loaded = asyncio.run(Store(tmp_path).load())
        assert [spec.name for spec, _ in loaded] == ["svc"], f"attempt {attempt}: lost the spec"
        spec, status = loaded[0]
        assert spec.env["I"] == str(status.generation)


def test_failed_write_keeps_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A full disk is simulated by making fsync fail (the one mock here: we cannot fill the disk)."""
    store = Store(tmp_path)
    spec = ServiceSpec(name="svc", command=["x"], description="old")
    asyncio.run(store.save(spec, ServiceStatus(state=ServiceState.ready)))

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageFailed):
        asyncio.run(store.save(spec.model_copy(update={"description": "new"}), ServiceStatus()))
    monkeypatch.undo()
    loaded = asyncio.run(store.load())
    assert loaded[0][0].description == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["svc.json"]  # no temp file left behind


def test_status_changes_are_coalesced_and_never_resurrect_a_deleted_service(tmp_path: Path):
    """Status-only changes are written later, in one write; a spec change and a delete win over them."""
    def on_disk(name: str) -> dict:
        return json.loads((tmp_path / f"{name}.json").read_text())

    async def main() -> None:
        store = Store(tmp_path)
        spec = ServiceSpec(name="svc", command=["x"])
        status = ServiceStatus(state=ServiceState.scaled_to_zero)
        await store.save(spec, status)
        assert store.is_durable(spec)
        status.state = ServiceState.waking
        store.save_status_later(spec, status)
        status.state = ServiceState.ready
        store.save_status_later(spec, status)
        assert on_disk("svc")["status"]["state"] == "scaled_to_zero"  # not on the request's path
        await asyncio.sleep(STATUS_WRITE_DELAY + 0.3)
        assert on_disk("svc")["status"]["state"] == "ready"

        newer = spec.model_copy(update={"description": "v2"})
        assert not store.is_durable(newer)
        status.state = ServiceState.stopping
        store.save_status_later(spec, status)  # pending for the old spec ...
        await store.save(newer, ServiceStatus(state=ServiceState.pending))  # ... overtaken
        store.flush()
        assert on_disk("svc")["spec"]["description"] == "v2"
        assert on_disk("svc")["status"]["state"] == "pending"

        other = ServiceSpec(name="gone", command=["x"])
        await store.save(other, ServiceStatus())
        store.save_status_later(other, ServiceStatus(state=ServiceState.ready))
        await store.delete("gone")
        await asyncio.sleep(STATUS_WRITE_DELAY + 0.3)
        assert not (tmp_path / "gone.json").exists()

    asyncio.run(main())
