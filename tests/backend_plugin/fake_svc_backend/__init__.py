"""A third-party backend for the contract tests: proves the backend interface is enough.

It behaves as a cluster backend does, with real local processes: its "objects" (one record per
service in ``<state_dir>/fake-cluster/``) and their processes outlive the Jupyter server
(``outlives_server``), so a restarted server adopts them from the state it stored; it restarts
its own crashed processes and reports that through ``Instance.health`` (``supervises_itself``);
it updates by a rollout inside the instance (``UpdateStrategy.rolling``), rolled back on failure;
readiness comes from its own watch of the port (not the server's HTTP probe); every request it
serves carries an extra header of the endpoint's (``X-Fake-Backend``). Nothing in jupyter-svc knows
of it: it is found through its entry point (``jupyter_svc.backends``: ``fake``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
from collections.abc import AsyncIterator, Collection, Mapping
from pathlib import Path
from typing import Any

import psutil
from traitlets import Float

from jupyter_svc.backends.base import (
    Backend,
    Endpoint,
    Health,
    Instance,
    LaunchContext,
    NotReady,
    ReadyCheck,
    UpdateStrategy,
)
from jupyter_svc.model.errors import SvcError
from jupyter_svc.model.placeholders import fill, fill_all
from jupyter_svc.model.spec import ServiceSpec

HEADER = ("X-Fake-Backend", "contract")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int, create_time: float) -> bool:
    try:
        proc = psutil.Process(pid)
        return abs(proc.create_time() - create_time) < 0.01 and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill(pid: int, create_time: float, grace: float = 2.0) -> None:
    if not _alive(pid, create_time):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    try:
        psutil.Process(pid).wait(grace)
    except psutil.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    except psutil.Error:
        pass


class FakeInstance(Instance):
    def __init__(self, backend: FakeBackend, spec: ServiceSpec, context: LaunchContext, port: int,
                 pid: int, create_time: float, popen: subprocess.Popen[bytes] | None) -> None:
        self.backend, self.spec, self.context = backend, spec, context
        self.endpoint = Endpoint("127.0.0.1", port, headers=(HEADER,))
        self.pid, self.create_time, self._popen = pid, create_time, popen
        self.restarts = 0
        self._ready = asyncio.Event()
        self._gone: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._reports: asyncio.Queue[Health | None] = asyncio.Queue()
        self._watch = asyncio.ensure_future(self._watch_loop())

    # -- the watch: readiness, crashes (restarted here, reported as health) ----------------------
    def _running(self) -> bool:
        if self._popen is not None and self._popen.pid == self.pid:
            return self._popen.poll() is None
        return _alive(self.pid, self.create_time)

    async def _watch_loop(self) -> None:
        while not self._gone.done():
            if not self._running():
                self._ready.clear()
                code = self._popen.returncode if self._popen is not None and self._popen.pid == self.pid else -9
                self.restarts += 1
                tail = tuple(await self.backend.log_tail(self.spec.name, 5))
                self._reports.put_nowait(Health(False, "CrashLoopBackOff", f"the app exited with code {code}; "
                                                "restarting it", tail, self.restarts))
                await asyncio.sleep(self.backend.restart_delay)
                if self._gone.done():
                    break
                self.pid, self.create_time, self._popen = self.backend.launch(self.spec, self.context,
                                                                               self.endpoint.port)
                self.backend.record(self.spec.name, self.state())
                while not self._gone.done() and self._running() and not await self._accepts(self.endpoint.port):
                    await asyncio.sleep(0.05)
                if self._running():
                    self._reports.put_nowait(Health(True, restarts=self.restarts))
                continue
            if not self._ready.is_set() and await self._accepts(self.endpoint.port):
                self._ready.set()
            await asyncio.sleep(0.05)
        self._reports.put_nowait(None)

    @staticmethod
    async def _accepts(port: int) -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    # -- the interface ---------------------------------------------------------------------------
    async def poll(self) -> int | None:
        return self._gone.result() if self._gone.done() else None

    async def wait(self) -> int:
        return await asyncio.shield(self._gone)

    async def wait_ready(self, check: ReadyCheck) -> None:
        """From its own watch (the port accepts), as a cluster backend reads a ready endpoint."""
        try:
            await asyncio.wait_for(self._ready.wait(), check.timeout)
        except asyncio.TimeoutError:
            raise NotReady(f"its port {self.endpoint.port} did not accept within {check.timeout:g}s") from None

    async def stop(self, grace: float) -> int:
        if not self._gone.done():
            self._gone.set_result(0)
        await asyncio.to_thread(_kill, self.pid, self.create_time, grace)
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.wait(1)
        self.backend.forget(self.spec.name)
        await asyncio.wait([self._watch], timeout=2)
        return 0

    def state(self) -> dict[str, Any]:
        return {"pid": self.pid, "create_time": self.create_time, "port": self.endpoint.port}

    async def health(self) -> AsyncIterator[Health]:  # type: ignore[override]
        while (report := await self._reports.get()) is not None:
            yield report

    async def roll_out(self, spec: ServiceSpec, context: LaunchContext, check: ReadyCheck) -> None:
        """The new version on a new port beside the old; switched to once it accepts, else removed."""
        port = _free_port()
        pid, create_time, popen = self.backend.launch(spec, context, port)
        deadline = asyncio.get_running_loop().time() + check.timeout
        while not await self._accepts(port):
            if popen.poll() is not None or asyncio.get_running_loop().time() > deadline:
                await asyncio.to_thread(_kill, pid, create_time)
                popen.poll()
                tail = "\n".join(await self.backend.log_tail(spec.name, 3))
                raise SvcError(f"rollout failed, rolled back (the new version did not serve):\n{tail}")
            await asyncio.sleep(0.05)
        old = (self.pid, self.create_time, self._popen)
        self.pid, self.create_time, self._popen, self.spec = pid, create_time, popen, spec
        self.endpoint = Endpoint("127.0.0.1", port, headers=(HEADER,))
        self.backend.record(spec.name, self.state())
        await asyncio.to_thread(_kill, old[0], old[1])
        if old[2] is not None:
            old[2].poll()


class FakeBackend(Backend):
    """Detached local processes that outlive the server, restarted by the backend itself."""

    name = "fake"
    supervises_itself = True
    outlives_server = True

    restart_delay = Float(1.5, help="Seconds between a crash and the restart (the crash is reported first).",
                          ).tag(config=True)

    @property
    def folder(self) -> Path:
        path = self.server.state_dir / "fake-cluster"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def record(self, name: str, state: Mapping[str, Any]) -> None:
        (self.folder / f"{name}.json").write_text(json.dumps({**state, "name": name}))

    def forget(self, name: str) -> None:
        (self.folder / f"{name}.json").unlink(missing_ok=True)

    def starts(self, name: str) -> int:
        path = self.folder / f"{name}.starts"
        return int(path.read_text()) if path.exists() else 0

    def launch(self, spec: ServiceSpec, context: LaunchContext,
               port: int) -> tuple[int, float, subprocess.Popen[bytes]]:
        values = {"port": str(port), "base_url": context.base_url, "name": spec.name}
        argv = (["/bin/sh", "-c", fill(spec.command, values)] if isinstance(spec.command, str)
                else fill_all(list(spec.command or []), values))
        env = {**os.environ, **context.env, **{k: fill(v, values) for k, v in spec.env.items()}}
        with open(self.folder / f"{spec.name}.log", "ab") as log:
            popen = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=spec.cwd or self.server.root_dir, start_new_session=True)
        (self.folder / f"{spec.name}.starts").write_text(str(self.starts(spec.name) + 1))
        return popen.pid, psutil.Process(popen.pid).create_time(), popen

    def update_strategy(self, old: ServiceSpec, new: ServiceSpec) -> UpdateStrategy:
        return UpdateStrategy.rolling

    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        port = _free_port()
        pid, create_time, popen = self.launch(spec, context, port)
        instance = FakeInstance(self, spec, context, port, pid, create_time, popen)
        self.record(spec.name, instance.state())
        return instance

    async def adopt(self, spec: ServiceSpec, state: Mapping[str, Any], context: LaunchContext) -> Instance | None:
        if not _alive(int(state["pid"]), float(state["create_time"])):
            return None
        return FakeInstance(self, spec, context, int(state["port"]), int(state["pid"]), float(state["create_time"]),
                            None)

    async def cleanup_orphans(self, known: Collection[str]) -> int:
        removed = 0
        for path in self.folder.glob("*.json"):
            record = json.loads(path.read_text())
            if record["name"] not in known:
                await asyncio.to_thread(_kill, record["pid"], record["create_time"])
                path.unlink()
                removed += 1
        return removed

    async def log_tail(self, name: str, lines: int) -> list[str]:
        path = self.folder / f"{name}.log"

        def read() -> list[str]:
            return path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []

        return await asyncio.to_thread(read)

    async def follow_logs(self, name: str) -> AsyncIterator[str]:  # type: ignore[override]
        path = self.folder / f"{name}.log"
        offset = path.stat().st_size if path.exists() else 0
        while True:
            await asyncio.sleep(0.2)
            if path.exists() and path.stat().st_size > offset:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    data = handle.read()
                offset += len(data)
                for line in data.decode(errors="replace").splitlines():
                    yield line

    async def delete(self, name: str) -> None:
        for suffix in (".json", ".log", ".starts"):
            (self.folder / f"{name}{suffix}").unlink(missing_ok=True)
