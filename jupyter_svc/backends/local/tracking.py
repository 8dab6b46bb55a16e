"""Every process of a service, not only its process group: found, recorded, stopped.

A service may leave its group (``setsid``) or lose its parent (``sh -c "app & wait"``). Three things
keep hold of all of them:

- the server is a *child subreaper* (Linux ``PR_SET_CHILD_SUBREAPER``): an orphan of a service is
  re-parented to the server, not to init, so it stays among the server's descendants;
- each instance's processes carry ``JUPYTER_SVC_INSTANCE=<id>`` in their environment (inherited by
  everything they start), which tells whose a descendant is once its parent is gone;
- a record on disk per instance (``<state>/processes/<id>.json``: pids with their create times),
  refreshed while it runs, so a server that starts after a crash finds what the dead one left
  behind. A pid is only ever signalled if its create time (psutil) still matches the record, or it
  carries the instance's marker: a reused pid is never killed.

The functions here read ``/proc`` (short reads, no disk); ``stop_all`` and the records block for
longer and run in a thread; ``terminate`` waits on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

#: The environment variable naming the instance a process belongs to.
MARKER = "JUPYTER_SVC_INSTANCE"
_PR_SET_CHILD_SUBREAPER = 36
#: Create times from psutil are rounded to clock ticks; two reads of one process agree within this.
_SAME_START = 0.05


def become_subreaper() -> bool:
    """Make orphans of services this process's children (Linux only); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class OrphanReaper:
    """Collects the exit of every orphan the subreaper adopts, services' or not (a kernel's
    background job too), so none stays a zombie of the server.

    Only processes seen earlier *below* a child of the server are reaped: a pid that once had
    another parent was not forked by the server, so no ``Popen`` of the server is waiting for it
    (reaping one of those would steal its exit code). Seen as (pid, create time): a reused pid is
    not mistaken for it. An orphan born and orphaned between two scans stays a zombie until the
    server exits.
    """

    def __init__(self) -> None:
        self._not_ours: set[tuple[int, float]] = set()

    def scan(self) -> int:
        """One pass (blocking: run in a thread); returns how many were reaped."""
        me = psutil.Process()
        seen: set[tuple[int, float]] = set()
        reaped = 0
        with contextlib.suppress(psutil.Error):
            for proc in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    key = (proc.pid, proc.create_time())
                    if proc.ppid() != me.pid:
                        seen.add(key)
                    elif key in self._not_ours and proc.status() == psutil.STATUS_ZOMBIE:
                        with contextlib.suppress(ChildProcessError, OSError):
                            os.waitpid(proc.pid, os.WNOHANG)
                            reaped += 1
                        continue
                    elif key in self._not_ours:
                        seen.add(key)  # adopted, still running
        self._not_ours = seen
        return reaped


def new_instance_id() -> str:
    return uuid.uuid4().hex


def _marker_of(proc: psutil.Process) -> str | None:
    try:
        return proc.environ().get(MARKER)
    except (psutil.Error, OSError):
        return None


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


#: The root process of every running instance: children of the server that are instances' own,
#: so ``members`` never reads their environment (with 200 services, a mass delete read 80,000
#: environments on the event loop: 14 s).
ROOTS: set[int] = set()


def members(instance_id: str, root_pid: int | None) -> list[psutil.Process]:
    """The instance's live processes: the root's descendants, and the orphans the subreaper adopted
    (direct children of the server) that carry its marker, with their descendants. The root itself
    is left out: its exit belongs to its ``ChildProcess``."""
    found: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.Error):
        if root_pid is not None:
            for proc in psutil.Process(root_pid).children(recursive=True):
                found[proc.pid] = proc
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process().children():
            if child.pid in found or child.pid == root_pid or child.pid in ROOTS or _marker_of(child) != instance_id:
                continue
            found[child.pid] = child
            with contextlib.suppress(psutil.Error):
                found.update((p.pid, p) for p in child.children(recursive=True))
    return [p for p in found.values() if _running(p)]


def reap_adopted(procs: Iterable[psutil.Process], root_pid: int | None = None) -> None:
    """Collect the exit of orphans the subreaper adopted, so no zombie stays (never the root's:
    its ``Popen`` waits for it)."""
    me = os.getpid()
    for proc in procs:
        if proc.pid == root_pid:
            continue
        with contextlib.suppress(psutil.Error, ChildProcessError, OSError):
            if proc.ppid() == me and proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)


def signal_all(procs: Iterable[psutil.Process], sig: int) -> None:
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)


def _still_running(procs: list[psutil.Process], root_pid: int | None) -> list[psutil.Process]:
    reap_adopted(procs, root_pid)
    return [p for p in procs if _running(p)]


async def terminate(procs: list[psutil.Process], grace: float, root_pid: int | None = None) -> None:
    """``stop_all`` on the event loop: no thread is held for the grace period (many services may
    stop at once)."""
    signal_all(procs, signal.SIGTERM)
    loop = asyncio.get_running_loop()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if sig == signal.SIGKILL:
            signal_all(procs, sig)
        deadline = loop.time() + wait
        while procs and loop.time() < deadline:
            await asyncio.sleep(0.02)
            procs = _still_running(procs, root_pid)
    if procs:
        log.error("jupyter-svc: processes survived SIGKILL: %s", [p.pid for p in procs])


def stop_all(procs: list[psutil.Process], grace: float, root_pid: int | None = None) -> list[psutil.Process]:
    """SIGTERM, ``grace`` seconds, then SIGKILL; returns the processes that had to be killed."""
    signal_all(procs, signal.SIGTERM)
    alive = _wait_gone(procs, grace, root_pid)
    signal_all(alive, signal.SIGKILL)
    _wait_gone(alive, 5.0, root_pid)
    return alive


def _wait_gone(procs: list[psutil.Process], seconds: float, root_pid: int | None) -> list[psutil.Process]:
    """Those of ``procs`` still running after at most ``seconds`` (reaping the ones we adopted)."""
    deadline = time.monotonic() + seconds
    alive = procs
    while alive and time.monotonic() < deadline:
        reap_adopted(alive, root_pid)
        alive = [p for p in alive if _running(p)]
        if alive:
            time.sleep(0.02)
    return alive


class ProcessRecords:
    """``<folder>/<instance id>.json``: the service's name and its processes' (pid, create time)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._written: dict[str, set[tuple[int, float]]] = {}

    def _path(self, instance_id: str) -> Path:
        return self.folder / f"{instance_id}.json"

    def write(self, instance_id: str, service: str, procs: Iterable[psutil.Process]) -> None:
        """Record these processes (only written when the set changed); failures are logged, the
        markers still find the processes."""
        entries: set[tuple[int, float]] = set()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                entries.add((proc.pid, proc.create_time()))
        if self._written.get(instance_id) == entries:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self._path(instance_id).with_suffix(".tmp")
            tmp.write_text(json.dumps({"service": service, "processes": sorted(entries)}))
            os.replace(tmp, self._path(instance_id))
            self._written[instance_id] = entries
        except OSError as exc:
            log.warning("jupyter-svc: cannot record the processes of %s: %s", service, exc)

    def remove(self, instance_id: str) -> None:
        self._written.pop(instance_id, None)
        with contextlib.suppress(OSError):
            self._path(instance_id).unlink(missing_ok=True)

    def _load(self) -> dict[str, tuple[str, list[tuple[int, float]]]]:
        out: dict[str, tuple[str, list[tuple[int, float]]]] = {}
        for path in self.folder.glob("*.json") if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                out[path.stem] = (str(data["service"]), [(int(p), float(t)) for p, t in data["processes"]])
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("jupyter-svc: unreadable process record %s (%s); matching by marker only", path, exc)
                out[path.stem] = ("?", [])
        return out

    def leftovers(self) -> dict[str, tuple[str, list[psutil.Process]]]:
        """What a server that died left running, per recorded instance: recorded pids whose create
        time still matches, and any process of this user carrying a recorded instance's marker."""
        records = self._load()
        found: dict[str, tuple[str, dict[int, psutil.Process]]] = {i: (s, {}) for i, (s, _) in records.items()}
        for instance_id, (_, entries) in records.items():
            for pid, created in entries:
                with contextlib.suppress(psutil.Error):
                    proc = psutil.Process(pid)
                    if abs(proc.create_time() - created) < _SAME_START and _running(proc):
                        found[instance_id][1][pid] = proc
        if records:
            me = os.getuid()
            for proc in psutil.process_iter():
                with contextlib.suppress(psutil.Error):
                    if proc.pid == os.getpid() or proc.uids().real != me:
                        continue
                    marker = _marker_of(proc)
                    if marker in found and _running(proc):
                        found[marker][1][proc.pid] = proc
        return {i: (service, list(procs.values())) for i, (service, procs) in found.items()}

    def stop_leftovers(self, grace: float) -> int:
        """Stop every leftover of a previous server and forget its records; how many were stopped."""
        stopped = 0
        for instance_id, (service, procs) in self.leftovers().items():
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    log.warning("jupyter-svc: stopping pid %d (%s) of service %s, left running by a "
                                "previous server", proc.pid, " ".join(proc.cmdline())[:200], service)
            stop_all(procs, grace)
            stopped += len(procs)
            self.remove(instance_id)
        return stopped
