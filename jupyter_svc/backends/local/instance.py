"""One running version of a local service: its process tree, its endpoint, its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal

import psutil

from jupyter_svc.backends.base import Endpoint, Instance
from jupyter_svc.model.errors import SvcError

from . import sockets, tracking
from .listening import exposure_warning, listening_beyond_loopback
from .logs import ServiceLog, exited_line, pump
from .process import ChildProcess

_ADDR_IN_USE = re.compile(r"address already in use|EADDRINUSE|errno 98", re.IGNORECASE)


class LocalInstance(Instance):
    def __init__(self, process: ChildProcess, endpoint: Endpoint, log: ServiceLog,
                 auto_port: bool, instance_id: str, records: tracking.ProcessRecords,
                 refuse_exposed: bool = False) -> None:
        self.process = process
        self.endpoint = endpoint
        self.instance_id = instance_id
        self._records = records
        self._seen: list[psutil.Process] = []  # its processes at the last refresh
        self._log = log
        self._auto_port = auto_port
        self._refuse_exposed = refuse_exposed
        self.inspection_gates_readiness = refuse_exposed
        self._pump = asyncio.ensure_future(self._read(process.stdout))
        tracking.ROOTS.add(process.pid)
        self._exit_noted = asyncio.ensure_future(self._note_exit())

    def record_root(self, service: str) -> None:
        """Record the root process only (blocking, cheap: one /proc read and a small file)."""
        with contextlib.suppress(psutil.Error):
            self._records.write(self.instance_id, service, [psutil.Process(self.process.pid)])

    def refresh_record(self, service: str) -> None:
        """Record the root and every descendant found now (blocking: run in a thread)."""
        if self.process.returncode is not None:
            return
        tracking.reap_adopted(self._seen, self.process.pid)  # orphans that exited on their own
        procs = self._seen = tracking.members(self.instance_id, self.process.pid)
        with contextlib.suppress(psutil.Error):
            procs.append(psutil.Process(self.process.pid))
        if self.process.returncode is None:  # the root may have exited (and been reaped) meanwhile
            self._records.write(self.instance_id, service, procs)

    async def _read(self, stream: asyncio.StreamReader) -> None:
        def write(line: str) -> None:
            if self._auto_port and _ADDR_IN_USE.search(line):
                self.retryable = True  # someone else took its auto-picked port first: try another
            self._log.write(line)

        await pump(stream, write)

    async def _note_exit(self) -> None:
        """The exit line, after the process's last output (or 2 s, if a descendant holds the pipe)."""
        code = await self.process.wait()
        await asyncio.wait([self._pump], timeout=2)
        self._log.write(exited_line(self.process.pid, code))

    async def poll(self) -> int | None:
        return self.process.returncode  # set by the pidfd watcher: no system call here

    async def inspect_ready(self) -> list[str]:
        """A warning (in the log too) for each address beyond loopback the app listens on; with
        ``refuse_exposed``, SvcError instead: such an app answers without Jupyter's login."""
        own = frozenset() if self.endpoint.unix_socket else frozenset({self.endpoint.host})
        exposed = await asyncio.to_thread(listening_beyond_loopback, self.process.pid, own)
        if not exposed:
            return []
        warning = exposure_warning(exposed)
        if self._refuse_exposed:
            self._log.write(f"[jupyter-svc] refused: {warning}")
            raise SvcError(f"refused: {warning} (the server's LocalBackend.refuse_exposed_services is on)")
        self._log.write(f"[jupyter-svc] warning: {warning}")
        return [warning]

    async def wait(self) -> int:
        code = await self.process.wait()
        tracking.ROOTS.discard(self.process.pid)
        self.kill_group(signal.SIGKILL)  # leftovers in the group (a shell's children) go too
        rest = tracking.members(self.instance_id, None)  # ... and those outside it (setsid, orphans)
        if rest:
            await tracking.terminate(rest, 0.0, self.process.pid)
        await asyncio.to_thread(self._records.remove, self.instance_id)
        if self.endpoint.unix_socket is not None:
            sockets.remove(self.endpoint.unix_socket)  # apps rarely remove theirs
        await asyncio.wait([self._exit_noted], timeout=3)
        return code

    def kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    async def stop(self, grace: float) -> int:
        """SIGTERM to the root, its group and every tracked descendant; SIGKILL after ``grace``."""
        if self.process.returncode is None:
            procs = tracking.members(self.instance_id, self.process.pid)
            self.kill_group(signal.SIGTERM)
            others = asyncio.ensure_future(tracking.terminate(procs, grace, self.process.pid))
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), grace)
            except asyncio.TimeoutError:
                self.kill_group(signal.SIGKILL)
            await others
        return await self.wait()
