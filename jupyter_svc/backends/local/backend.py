"""The embedded default backend: each service is a supervised local process tree.

Every process a service starts is tracked (``tracking.py``: subreaper, an instance marker in the
environment, a record on disk), so stop, delete and a restart after a crash leave none behind.
Its options live on this class (``c.LocalBackend.port_range``); the server's old names
(``c.SvcExtension.port_range``, ...) still work, with a deprecation warning (server/backend_config.py).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any

import psutil
from traitlets import Bool, Int, Tuple, Unicode

from jupyter_svc.backends.base import (
    Backend,
    Endpoint,
    Instance,
    LaunchContext,
    ServerInfo,
    UpdateStrategy,
    no_containers,
)
from jupyter_svc.model.errors import FieldError, SvcError
from jupyter_svc.model.placeholders import UNIX_SOCKET, fields_mentioning, fill, fill_all
from jupyter_svc.model.spec import Container, ServiceSpec

from . import sockets, tracking
from .instance import LocalInstance
from .logs import ServiceLog, deleted_line, pump, started_line
from .ports import PortAllocator
from .process import ChildProcess

#: Variables of the server that a service does not inherit unless its spec names them in
#: ``inherit_env``: Jupyter's token, and everything JupyterHub gives a single-user server (its API
#: token reads ``/hub/api/user`` as the user; the old ``JPY_*`` spellings too).
WITHHELD_ENV = re.compile(r"^(JUPYTERHUB_.*|JPY_.*|JUPYTER_TOKEN|JUPYTER_SVC_TOKEN)$")
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


class LocalBackend(Backend):
    """Runs commands as process groups on this machine; no cluster needed."""

    name = "local"
    start_attempts = 3  # another process may take an auto-picked port between pick and bind

    port_range = Tuple(
        Int(), Int(), default_value=(20000, 29999),
        help="Ports picked from for services with port 0 (inclusive).",
    ).tag(config=True)
    host = Unicode("127.0.0.1", help="Address local services listen on and are reached at.").tag(config=True)
    refuse_exposed_services = Bool(
        False, help="Fail a service whose processes listen on an address other than loopback (such an app "
                    "answers without Jupyter's login) instead of running it with a warning in its status.",
    ).tag(config=True)
    max_log_bytes = Int(
        10 * 1024 * 1024, help="Size of a service's log file before it rolls over (one old file kept).",
    ).tag(config=True)
    prefer_unix_sockets = Bool(
        False, help="Templates (%svc TEMPLATE, %%svc TEMPLATE) of frameworks that can listen on a Unix socket use "
                    "{unix_socket} instead of {port}: only this user can reach the app, where any local user "
                    "can connect to a loopback port. Specs may use {unix_socket} either way.",
    ).tag(config=True)

    def __init__(self, server: ServerInfo, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self.log_dir = server.state_dir / "logs"
        self.ports = PortAllocator(self.port_range[0], self.port_range[1], host=self.host)
        self.sockets = sockets.SocketFolder(server.runtime_dir)
        self.init_timeout = server.readiness_timeout
        #: where a spec without cwd runs, and what a relative cwd is relative to (the server's
        #: root_dir), never the server process's own working directory
        self.default_cwd = server.root_dir
        self._logs: dict[str, ServiceLog] = {}
        self.records = tracking.ProcessRecords(server.state_dir / "processes")
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
                instance.kill_group(signal.SIGTERM)
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

    @property
    def prefers_unix_sockets(self) -> bool:
        return bool(self.prefer_unix_sockets)

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

    async def log_tail(self, name: str, lines: int, container: str | None = None) -> list[str]:
        if container is not None:
            raise no_containers(self.name)
        return self.log(name).tail(lines)  # kept in memory: no disk read

    def update_strategy(self, old: ServiceSpec, new: ServiceSpec) -> UpdateStrategy:
        """Beside the running version when every port of the new one is picked afresh (a socket
        is per instance too); else the old one must free its fixed port first."""
        if new.port == 0 and all(extra.port == 0 for extra in new.ports):
            return UpdateStrategy.side_by_side
        return UpdateStrategy.stop_then_start

    def follow_logs(self, name: str, container: str | None = None) -> AsyncIterator[str]:
        if container is not None:
            raise no_containers(self.name)
        return self.log(name).follow()

    def _environment(self, spec: ServiceSpec, values: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
        inherit = set(spec.inherit_env)
        env = {k: v for k, v in os.environ.items() if k in inherit or not WITHHELD_ENV.match(k)}
        env.update({"JUPYTER_SVC_NAME": spec.name, "JUPYTER_SVC_PORT": values["port"],
                    "JUPYTER_SVC_BASE_URL": values["base_url"]})
        if UNIX_SOCKET in values:
            env["JUPYTER_SVC_UNIX_SOCKET"] = values[UNIX_SOCKET]
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
        instance_id = tracking.new_instance_id()
        if _uses_socket(spec):
            values[UNIX_SOCKET] = self.sockets.socket_for(instance_id)
        env = self._environment(spec, values, context.env)
        env[tracking.MARKER] = instance_id  # inherited by all it starts
        log = self.log(spec.name)
        for step in spec.init:
            await self._run_init(step, values, env, log)
        if isinstance(spec.command, str):
            argv = ["/bin/sh", "-c", fill(spec.command, values)]
        else:
            assert spec.command is not None  # guaranteed by check() + the spec validators
            argv = fill_all(spec.command, values)
        process = self._spawn(argv, spec.cwd, env)
        socket_path = values.get(UNIX_SOCKET)
        endpoint = Endpoint(self.host, port, unix_socket=socket_path)
        log.write(started_line(process.pid, socket_path or f"port {port}", argv))
        instance = LocalInstance(process, endpoint, log, auto and socket_path is None, instance_id, self.records,
                                 self.refuse_exposed_services)
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
            log.write(deleted_line())  # the last line its followers get before their stream ends
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


def _uses_socket(spec: ServiceSpec) -> bool:
    """True when the spec asks for a Unix socket: ``{unix_socket}`` in its command or env."""
    return bool(fields_mentioning(spec, UNIX_SOCKET))
