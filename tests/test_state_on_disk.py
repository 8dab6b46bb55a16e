"""State on disk (issue 14, part 3): nothing lost, failures loud.

Unreadable state files are set aside and their names refused, every readable one is restored; a
spec change that cannot be made durable is an error and changes nothing; a second server on one
state folder serves nothing. All against real servers and a real file system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import echo_command, wait_for_state

from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceStatus
from jupyter_svc.services.store import CORRUPT_SUFFIX, Store

GOOD = {"spec": {"name": "alpha", "command": echo_command()}, "status": {}}
BROKEN = {
    "s05": "[]",  # valid JSON, not an object: a TypeError on the landed code
    "bad": "{not json",
    "old": json.dumps({"spec": {"name": "old", "command": ["x"], "no_such_field": 1}}),
    "other": json.dumps({"spec": {"name": "alpha", "command": ["x"]}}),  # another service's spec
}


def seed(services: Path) -> None:
    services.mkdir(parents=True, exist_ok=True)
    (services / "alpha.json").write_text(json.dumps(GOOD))
    for name, text in BROKEN.items():
        (services / f"{name}.json").write_text(text)


def set_aside(services: Path, name: str) -> list[Path]:
    return sorted(services.glob(f"{name}{CORRUPT_SUFFIX}*"))


def test_store_sets_unreadable_files_aside_and_refuses_their_names(tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture):
    seed(tmp_path)
    store = Store(tmp_path)
    loaded = asyncio.run(store.load())
    assert [spec.name for spec, _ in loaded] == ["alpha"]
    for name, text in BROKEN.items():
        assert not (tmp_path / f"{name}.json").exists()
        (moved,) = set_aside(tmp_path, name)
        assert moved.read_text() == text  # kept, byte for byte, for a person to look at
        assert str(moved) in caplog.text
        refusal = asyncio.run(store.refusal(name))
        assert refusal is not None and str(moved) in refusal
    assert asyncio.run(store.refusal("alpha")) is None

    again = Store(tmp_path)  # a restart: the names stay refused while the files are there
    assert [spec.name for spec, _ in asyncio.run(again.load())] == ["alpha"]
    assert asyncio.run(again.refusal("s05")) is not None
    set_aside(tmp_path, "s05")[0].unlink()  # a person resolved it
    assert asyncio.run(again.refusal("s05")) is None


class TestSeededFolder:
    """The server starts on a folder holding one good and several broken files."""

    @pytest.fixture
    def svc_state_dir(self, tmp_path: Path) -> Path:
        state = tmp_path / "svc-state"
        seed(state / "services")
        return state

    async def test_restores_the_readable_and_refuses_set_aside_names(self, api, svc_state_dir):
        services = svc_state_dir / "services"
        await wait_for_state(api, "alpha", {"ready"})
        _, listing = await api("GET", "services")
        assert [v["name"] for v in listing["services"]] == ["alpha"]
        (moved,) = set_aside(services, "s05")
        code, body = await api("POST", "services", {"name": "s05", "command": echo_command()})
        assert code == 409, body
        assert str(moved) in body["message"]
        assert not (services / "s05.json").exists() and moved.read_text() == "[]"  # nothing overwritten
        code, body = await api("PUT", "services/bad", {"command": echo_command()})
        assert code == 409 and str(set_aside(services, "bad")[0]) in body["message"], body
        moved.unlink()
        code, body = await api("POST", "services", {"name": "s05", "command": echo_command()})
        assert code == 201, body


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """Make ``folder`` refuse writes even to root: ``chattr +i`` where the file system has it,
    else the folder is replaced by a file (both are real failures of the real calls)."""
    if shutil.which("chattr") and subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
        try:
            yield "chattr +i"
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        return
    aside = folder.with_name(folder.name + ".real")
    folder.rename(aside)
    folder.write_text("not a folder")
    try:
        yield "a file in the folder's place"
    finally:
        folder.unlink()
        aside.rename(folder)


async def test_a_change_that_cannot_be_stored_is_an_error_and_changes_nothing(api, svc_state_dir):
    code, body = await api("POST", "services", {"name": "alpha", "description": "old", "command": echo_command()},
                           wait=20)
    assert code == 201, body
    services = svc_state_dir / "services"
    with unwritable(services) as how:
        code, body = await api("PATCH", "services/alpha", {"description": "new"})
        assert code in (500, 507), (how, code, body)
        assert str(services / "alpha.json") in body["message"] and "[E" in body["message"], body
        code, body = await api("POST", "services", {"name": "fresh", "command": echo_command()})
        assert code in (500, 507), (how, code, body)
        assert str(services / "fresh.json") in body["message"], body
        code, body = await api("DELETE", "services/alpha")
        assert code in (500, 507), (how, code, body)
        code, view = await api("GET", "services/alpha")
        assert code == 200 and view["spec"]["description"] == "old" and view["status"]["state"] == "ready"
        assert (await api("GET", "services/fresh"))[0] == 404
    stored = json.loads((services / "alpha.json").read_text())
    assert stored["spec"]["description"] == "old"
    assert not (services / "fresh.json").exists()
    code, body = await api("PATCH", "services/alpha", {"description": "new"})  # writable again: works
    assert code in (200, 202), body
    assert json.loads((services / "alpha.json").read_text())["spec"]["description"] == "new"


def test_a_failed_fsync_raises_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A full disk, simulated by fsync failing (we cannot fill the disk): 507 naming path and errno."""
    from jupyter_svc.services.store import StorageFailed

    store = Store(tmp_path)

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StorageFailed) as caught:
        asyncio.run(store.save(ServiceSpec(name="svc", command=["x"]), ServiceStatus()))
    assert caught.value.status_code == 507
    assert str(tmp_path / "svc.json") in caught.value.message and "ENOSPC" in caught.value.message


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, token: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


async def test_a_second_server_on_the_same_folder_serves_nothing(api, svc_state_dir, tmp_path):
    code, body = await api("POST", "services", {"name": "alpha", "command": echo_command()}, wait=20)
    assert code == 201, body
    port, token, log = free_port(), "second-token", tmp_path / "second.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
             "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
             f"--SvcExtension.state_dir={svc_state_dir}",
             "--ServerApp.jpserver_extensions={'jupyter_svc': True}"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "JUPYTER_PLATFORM_DIRS": "1"},
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                code, body = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/svc/api/services", token)
                break
            except OSError:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                await asyncio.sleep(0.2)
        holder = f"process {os.getpid()}"  # the in-process server of this test holds the folder
        assert code == 503 and holder in body["message"], body
        assert holder in log.read_text()
        code, _ = await asyncio.to_thread(get, f"http://127.0.0.1:{port}/svc/api/services/alpha", token)
        assert code == 503
        code, view = await api("GET", "services/alpha")  # the first server still serves it, alone
        assert code == 200 and view["status"]["state"] == "ready"
    finally:
        server.terminate()
        server.wait(20)
