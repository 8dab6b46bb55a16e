"""The embedded default backend: each service is a supervised local process tree.

Every process a service starts is tracked (``tracking.py``: subreaper, an instance marker in the
environment, a record on disk), so stop, delete and a restart after a crash leave none behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import random
import re
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import psutil

from jupyter_svc.backends.base import Backend, Endpoint, Instance, LaunchContext
from jupyter_svc.model.errors import FieldError, SvcError
from jupyter_svc.model.placeholders import fill, fill_all
from jupyter_svc.model.spec import Container, ServiceSpec

from . import tracking
from .listening import exposure_warning, listening_beyond_loopback
from .logs import ServiceLog, pump
from .process import ChildProcess

#: Variables of the server that a service does not inherit unless its spec names them in
#: ``inherit_env``: Jupyter's token, and everything JupyterHub gives a single-user server (its API
#: token reads ``/hub/api/user`` as the user; the old ``JPY_*`` spellings too).
WITHHELD_ENV = re.compile(r"^(JUPYTERHUB_.*|JPY_.*|JUPYTER_TOKEN|JUPYTER_SVC_TOKEN)$")
_ADDR_IN_USE = re.compile(r"address already in use|EADDRINUSE|errno 98", re.IGNORECASE)
_PR_SET_PDEATHSIG = 1
#: Seconds between refreshes of the running instances' process records.
RECORD_INTERVAL = 2.0
#: Seconds running services get between SIGTERM and SIGKILL when the server exits without its
#: shutdown hooks (SIGINT without a terminal ends jupyter_server's loop with KeyboardInterrupt).
EXIT_GRACE = 2.0


def _die_with_parent() -> tuple[list[str], Callable[[], None] | None]:
    """How to make a child get SIGTERM if the server dies without cleaning up.

    ``setpriv --pdeathsig`` (util-linux) sets it and execs the command: the fast path, since a
    ``preexec_fn`` forces a full fork of the server (about 30 ms with a few hundred MB of RSS,
    measured here) where ``posix_spawn``/``vfork`` take under 1 ms. Without setpriv, Linux falls
    back to the preexec hook; other systems rely on the server's own shutdown.
    """
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [setpriv, "--pdeathsig", "TERM", "--"], None
    if not sys.platform.startswith("linux"):
        return [], None
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return [], None

    def hook() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return [], hook


_DEATH_PREFIX, _DEATH_HOOK = _die_with_parent()


class PortAllocator:
    """Hands out free loopback ports from a range, never the same one twice in a short while."""

    def __init__(self, low: int, high: int, host: str = "127.0.0.1") -> None:
        self.low, self.high, self.host = low, high, host
        self._recent: dict[int, float] = {}

    def allocate(self) -> int:
        now = time.monotonic()
        self._recent = {p: t for p, t in self._recent.items() if now - t < 30}
        for _ in range(200):
            port = random.randint(self.low, self.high)
            if port in self._recent:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((self.host, port))
                except OSError:
                    continue
            self._recent[port] = now
            return port
        raise SvcError(f"no free port in {self.low}-{self.high}")


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
        self._saw_addr_in_use = False
        self._pump = asyncio.ensure_future(self._read(process.stdout))
        tracking.ROOTS.add(process.pid)

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
            if _ADDR_IN_USE.search(line):
                self._saw_addr_in_use = True
            self._log.write(line)

        await pump(stream, write)

    @property
    def retryable(self) -> bool:
        """True when it died because someone else took its auto-picked port first."""
        return self._auto_port and self._saw_addr_in_use

    def poll(self) -> int | None:
        return self.process.returncode

    async def inspect_ready(self) -> list[str]:
        """A warning (in the log too) for each address beyond loopback the app listens on; with
        ``refuse_exposed``, SvcError instead: such an app answers without Jupyter's login."""
        exposed = await asyncio.to_thread(listening_beyond_loopback, self.process.pid,
                                          frozenset({self.endpoint.host}))
        if not exposed:
            return []
        warning = exposure_warning(exposed)
        if self._refuse_exposed:
            self._log.write(f"[jupyter-svc] refused: {warning}")
            raise SvcError(f"refused: {warning} (the server's SvcExtension.refuse_exposed_services is on)")
        self._log.write(f"[jupyter-svc] warning: {warning}")
        return [warning]

    async def wait(self) -> int:
        code = await self.process.wait()
        tracking.ROOTS.discard(self.process.pid)
        self._kill_group(signal.SIGKILL)  # leftovers in the group (a shell's children) go too
        rest = tracking.members(self.instance_id, None)  # ... and those outside it (setsid, orphans)
        if rest:
            await tracking.terminate(rest, 0.0, self.process.pid)
        await asyncio.to_thread(self._records.remove, self.instance_id)
        await asyncio.wait([self._pump], timeout=2)
        return code

    def _kill_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    async def stop(self, grace: float) -> int:
        """SIGTERM to the root, its group and every tracked descendant; SIGKILL after ``grace``."""
        if self.process.returncode is None:
            procs = tracking.members(self.instance_id, self.process.pid)
            self._kill_group(signal.SIGTERM)
            others = asyncio.ensure_future(tracking.terminate(procs, grace, self.process.pid))
            try:
                await asyncio.wait_for(asyncio.shield(self.process.wait()), grace)
            except asyncio.TimeoutError:
                self._kill_group(signal.SIGKILL)
            await others
        return await self.wait()


class LocalBackend(Backend):
    """Runs commands as process groups on this machine; no cluster needed."""

    name = "local"

    def __init__(self, log_dir: Path, ports: PortAllocator, max_log_bytes: int,
                 host: str = "127.0.0.1", init_timeout: float = 300.0, default_cwd: str | None = None,
                 refuse_exposed: bool = False, records_dir: Path | None = None) -> None:
        self.log_dir = log_dir
        self.ports = ports
        self.max_log_bytes = max_log_bytes
        self.host = host
        self.init_timeout = init_timeout
        #: where a spec without cwd runs, and what a relative cwd is relative to (the server's
        #: root_dir), never the server process's own working directory
        self.default_cwd = default_cwd
        self.refuse_exposed = refuse_exposed
        self._logs: dict[str, ServiceLog] = {}
        self.records = tracking.ProcessRecords(records_dir or log_dir.parent / "processes")
        self.subreaper = False  # set once this server owns the state folder (stop_leftovers)
        self._reaper = tracking.OrphanReaper()
        self._running: dict[LocalInstance, str] = {}  # instance -> service, for the record refresher
        self._refresher: asyncio.Task[None] | None = None
        self._first_records: set[asyncio.Future[None]] = set()
        atexit.register(self._stop_at_exit)

    def _stop_at_exit(self) -> None:
        """Last resort at interpreter exit: stop every process of every instance still running."""
        procs: list[psutil.Process] = []
        for instance in list(self._running):
            if instance.process.returncode is None:
                instance._kill_group(signal.SIGTERM)
                procs += tracking.members(instance.instance_id, instance.process.pid)
                with contextlib.suppress(psutil.Error):
                    procs.append(psutil.Process(instance.process.pid))
            self.records.remove(instance.instance_id)
        if procs:
            tracking.stop_all(procs, EXIT_GRACE)

    async def stop_leftovers(self, grace: float) -> int:
        """Stop what a previous server on this state folder left running, then track descendants
        from now on (call once, with the folder locked)."""
        self.subreaper = tracking.become_subreaper()
        self._ensure_refresher()
        return await asyncio.to_thread(self.records.stop_leftovers, grace)

    def _ensure_refresher(self) -> None:
        if self._refresher is None:
            self._refresher = asyncio.ensure_future(self._refresh_records())

    async def _refresh_records(self) -> None:
        """Keep each running instance's record current (a crash then leaves nothing unrecorded),
        and collect the orphans the subreaper adopted."""
        while True:
            await asyncio.sleep(RECORD_INTERVAL)
            for instance, service in list(self._running.items()):
                if instance.process.returncode is not None:
                    self._running.pop(instance, None)
                    continue
                await asyncio.to_thread(instance.refresh_record, service)
            if self.subreaper:
                await asyncio.to_thread(self._reaper.scan)

    def check(self, spec: ServiceSpec) -> list[FieldError]:
        why = "the local backend runs processes on this machine; use the kubernetes backend for it"
        errors = []
        for field in ("image", "image_pull_secrets", "volumes", "node_selector", "priority_class", "sidecars"):
            if getattr(spec, field):
                errors.append(FieldError(field, f"not supported: {why}"))
        if not spec.resources.is_empty():
            errors.append(FieldError("resources", f"not enforced locally: {why}"))
        for i, step in enumerate(spec.init):
            if step.image:
                errors.append(FieldError(f"init[{i}].image", f"not supported: {why}"))
        if spec.replicas > 1:
            errors.append(FieldError("replicas", f"the local backend runs one replica: {why}"))
        return errors

    def log(self, name: str) -> ServiceLog:
        if name not in self._logs:
            self._logs[name] = ServiceLog(self.log_dir / f"{name}.log", self.max_log_bytes)
        return self._logs[name]

    def log_tail(self, name: str, lines: int) -> list[str]:
        return self.log(name).tail(lines)

    def follow_logs(self, name: str) -> AsyncIterator[str]:
        return self.log(name).follow()

    def _environment(self, spec: ServiceSpec, values: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
        inherit = set(spec.inherit_env)
        env = {k: v for k, v in os.environ.items() if k in inherit or not WITHHELD_ENV.match(k)}
        env.update({"JUPYTER_SVC_NAME": spec.name, "JUPYTER_SVC_PORT": values["port"],
                    "JUPYTER_SVC_BASE_URL": values["base_url"]})
        env.update(extra)
        env.update({k: fill(v, values) for k, v in spec.env.items()})
        env.update({k: fill(v.get_secret_value(), values) for k, v in spec.secret_env.items()})
        return env

    def _cwd(self, cwd: str | None) -> str | None:
        if not cwd:
            return self.default_cwd
        cwd = os.path.expanduser(cwd)
        return os.path.join(self.default_cwd, cwd) if self.default_cwd else cwd

    def _spawn(self, argv: list[str], cwd: str | None, env: dict[str, str]) -> ChildProcess:
        try:
            return ChildProcess.start([*_DEATH_PREFIX, *argv], self._cwd(cwd), env, _DEATH_HOOK)
        except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
            raise SvcError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc

    async def _run_init(self, step: Container, values: dict[str, str], env: dict[str, str],
                        log: ServiceLog) -> None:
        step_env = {**env, **{k: fill(v, values) for k, v in step.env.items()}}
        process = self._spawn(fill_all(step.command, values), step.cwd, step_env)
        reader = asyncio.ensure_future(pump(process.stdout, log.write, f"[init {step.name}] "))
        try:
            code = await asyncio.wait_for(process.wait(), self.init_timeout)
        except asyncio.TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            raise SvcError(f"init step {step.name!r} did not finish in {self.init_timeout:g}s") from None
        await reader
        if code != 0:
            tail = "\n".join(log.tail(10))
            raise SvcError(f"init step {step.name!r} exited with {code}:\n{tail}")

    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        auto = spec.port == 0
        port = self.ports.allocate() if auto else spec.port
        values = {"port": str(port), "base_url": context.base_url, "name": spec.name}
        for extra in spec.ports:
            values[f"ports.{extra.name}"] = str(extra.port or self.ports.allocate())
        env = self._environment(spec, values, context.env)
        instance_id = env[tracking.MARKER] = tracking.new_instance_id()  # inherited by all it starts
        log = self.log(spec.name)
        for step in spec.init:
            await self._run_init(step, values, env, log)
        if isinstance(spec.command, str):
            argv = ["/bin/sh", "-c", fill(spec.command, values)]
        else:
            assert spec.command is not None  # guaranteed by check() + the spec validators
            argv = fill_all(spec.command, values)
        process = self._spawn(argv, spec.cwd, env)
        log.write(f"[jupyter-svc] started pid {process.pid} on port {port}: {' '.join(argv)}")
        instance = LocalInstance(process, Endpoint(self.host, port), log, auto, instance_id, self.records,
                                 self.refuse_exposed)
        self._running[instance] = spec.name
        # the root alone for now (its children carry the instance's marker): the full scan of /proc
        # that refresh_record makes would compete with the wake for the GIL; the refresher does it
        first = asyncio.ensure_future(asyncio.to_thread(instance.record_root, spec.name))
        self._first_records.add(first)
        first.add_done_callback(self._first_records.discard)
        self._ensure_refresher()
        return instance

    async def delete(self, name: str) -> None:
        """Forget the service's logs: open or not (a service deleted at zero has none open)."""
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()
        path = self.log_dir / f"{name}.log"
        for old in (path, path.with_suffix(".log.1")):
            await asyncio.to_thread(old.unlink, True)

    async def close(self) -> None:
        self._running.clear()
        if self._refresher is not None:
            self._refresher.cancel()
        for log in self._logs.values():
            log.close()
        self._logs.clear()
