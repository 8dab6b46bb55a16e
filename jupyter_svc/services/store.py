"""Specs and last known statuses on disk, one JSON file per service, written atomically.

A write goes to a temporary file in the same folder, then is renamed over the old one: a crash at
any point leaves either the old file or the new one, never a torn one. When the spec changed, the
file is fsynced first, in a thread (what the user asked for must survive a power cut). A change
of status alone (waking, ready, counters) is written later, without fsync, coalesced: a wake's
"waking" and "ready" become one write, made after the requests it held have gone out (inline they
cost those requests ~0.5 ms of event loop time on the wake path). A crash loses at most the last
STATUS_WRITE_DELAY of statuses, never a spec.

A spec write that fails raises :class:`StorageFailed` (the API answers 507 or 500 naming the path
and the errno) and the caller keeps the previous spec. A file that cannot be read back is never
skipped silently: it is moved aside as ``<name>.json.corrupt-<UTC time>`` and its name stays
refused (``set_aside``) until a person moves or deletes that file.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import tempfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from jupyter_svc.model.errors import SvcError
from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceStatus

log = logging.getLogger(__name__)

#: Seconds a status-only change may wait before it is written (see the module docstring).
STATUS_WRITE_DELAY = 0.5
#: What a set-aside state file's name ends with, before its timestamp.
CORRUPT_SUFFIX = ".json.corrupt-"


class StorageFailed(SvcError):
    """A spec could not be made durable: 507 when the disk is full, 500 otherwise."""

    status_code = 500

    @classmethod
    def of(cls, action: str, path: Path, exc: OSError) -> StorageFailed:
        code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
        error = cls(f"cannot {action} {path}: [{code}] {exc.strerror or exc}; nothing was changed")
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            error.status_code = 507
        return error


class StateUnreadable(Exception):
    """A state file that does not hold a service (bad JSON, not an object, an invalid spec)."""


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._durable_specs: dict[str, str] = {}  # the spec JSON last fsynced, per service
        self._durable: dict[str, ServiceSpec] = {}  # ... and the object it came from
        self._pending: dict[str, tuple[ServiceSpec, ServiceStatus]] = {}  # statuses to write later
        self._timer: asyncio.TimerHandle | None = None
        #: deletions per name: a save that waited behind a delete of its service writes nothing
        self._deletions: defaultdict[str, int] = defaultdict(int)
        #: names whose file could not be read, with where it was moved (see ``refusal``)
        self.set_aside: dict[str, Path] = {}
        #: what each service's running instance asked to keep (``Instance.state()``), written with
        #: its next save and read back by ``load``, so that a restarted server can adopt it
        self.backend_states: dict[str, dict[str, Any]] = {}

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def _write(self, name: str, payload: str, fsync: bool) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, self._path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _payload(self, spec_json: str, status: ServiceStatus, name: str) -> str:
        state = self.backend_states.get(name)
        extra = f',\n"backend_state": {json.dumps(state)}' if state else ""
        return f'{{"spec": {spec_json},\n"status": {json.dumps(status.model_dump(mode="json"), indent=1)}{extra}}}\n'

    def is_durable(self, spec: ServiceSpec) -> bool:
        """True if this very spec object is on disk already (specs are replaced, never mutated)."""
        return self._durable.get(spec.name) is spec

    async def save(self, spec: ServiceSpec, status: ServiceStatus) -> None:
        """Write now: fsynced if the spec changed since the last durable write."""
        self._pending.pop(spec.name, None)  # this write carries a newer status
        spec_json = json.dumps(spec.model_dump(mode="json"), indent=1)
        payload = self._payload(spec_json, status, spec.name)
        deletions = self._deletions[spec.name]
        async with self._locks[spec.name]:
            if self._deletions[spec.name] != deletions:
                return  # its service was deleted meanwhile: writing would bring the file back
            try:
                if self._durable_specs.get(spec.name) == spec_json:
                    self._write(spec.name, payload, fsync=False)
                else:
                    await asyncio.to_thread(self._write, spec.name, payload, True)
                    self._durable_specs[spec.name] = spec_json
            except OSError as exc:
                error = StorageFailed.of(f"save the spec of {spec.name!r} to", self._path(spec.name), exc)
                log.error("jupyter-svc: %s", error)
                raise error from exc
            self._durable[spec.name] = spec

    def save_status_later(self, spec: ServiceSpec, status: ServiceStatus) -> None:
        """Write within STATUS_WRITE_DELAY; ``spec`` must be durable already (``is_durable``)."""
        self._pending[spec.name] = (spec, status)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(STATUS_WRITE_DELAY, self.flush)

    def flush(self) -> None:
        """Write the pending statuses now (their specs are on disk: no fsync, no thread)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, {}
        for name, (spec, status) in pending.items():
            if self._durable.get(name) is not spec:
                continue  # a newer spec was saved (with its status) since
            try:
                self._write(name, self._payload(self._durable_specs[name], status, name), fsync=False)
            except OSError as exc:
                log.error("jupyter-svc: cannot write the status of %s: %s", name, exc)

    async def delete(self, name: str) -> None:
        """Remove the service's file; StorageFailed (and the file stays) if it cannot be removed."""
        self._pending.pop(name, None)
        self._durable.pop(name, None)
        self._deletions[name] += 1
        async with self._locks[name]:
            try:
                await asyncio.to_thread(self._path(name).unlink, True)
            except OSError as exc:
                error = StorageFailed.of(f"delete the spec of {name!r} at", self._path(name), exc)
                log.error("jupyter-svc: %s", error)
                raise error from exc
        self._locks.pop(name, None)
        self._durable_specs.pop(name, None)
        self.backend_states.pop(name, None)

    async def refusal(self, name: str) -> str | None:
        """Why ``name`` may not be used yet: its old file was set aside and is still there."""
        path = self.set_aside.get(name)
        if path is None:
            return None
        if not await asyncio.to_thread(path.exists):
            del self.set_aside[name]  # a person moved or deleted it: resolved
            return None
        return (f"the stored spec of {name!r} could not be read and was moved to {path}; fix it and "
                f"move it back to {self._path(name)} (then restart the server), or delete it, to use this name again")

    def _parse(self, path: Path) -> tuple[ServiceSpec, ServiceStatus]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise StateUnreadable(f"not UTF-8 text: {exc}") from None
        except ValueError as exc:
            raise StateUnreadable(f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            raise StateUnreadable('not an object with a "spec" object')
        try:
            spec = ServiceSpec.model_validate(data["spec"])
        except ValidationError as exc:
            raise StateUnreadable(f"the stored spec no longer validates: {exc}") from None
        if spec.name != path.stem:
            raise StateUnreadable(f"it holds the spec of {spec.name!r}, not of {path.stem!r}")
        try:  # a status is only what was last seen: a bad one is dropped, never the spec with it
            status = ServiceStatus.model_validate(data.get("status") or {})
        except ValidationError as exc:
            log.warning("jupyter-svc: %s: the stored status is unreadable (%s); starting from a fresh one",
                        path, exc.errors(include_url=False)[:1])
            status = ServiceStatus()
        state = data.get("backend_state")
        if isinstance(state, dict) and state:
            self.backend_states[spec.name] = state
        return spec, status

    def _set_aside(self, path: Path, reason: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        target = path.with_name(f"{path.stem}{CORRUPT_SUFFIX}{stamp}")
        try:
            os.replace(path, target)
        except OSError as exc:  # cannot move it: still refuse the name, pointing at the file itself
            log.error("jupyter-svc: cannot restore %s (%s) nor move it aside: %s; %r stays refused",
                      path, reason, exc, path.stem)
            self.set_aside[path.stem] = path
            return
        log.error("jupyter-svc: cannot restore %s: %s; moved it to %s. The name %r is refused until "
                  "that file is fixed and moved back, or deleted", path, reason, target, path.stem)
        self.set_aside[path.stem] = target

    def _read_all(self) -> list[tuple[ServiceSpec, ServiceStatus]]:
        out: list[tuple[ServiceSpec, ServiceStatus]] = []
        if not self.directory.is_dir():
            return out
        for old in sorted(self.directory.glob(f"*{CORRUPT_SUFFIX}*")):  # set aside by an earlier start
            name = old.name.split(CORRUPT_SUFFIX, 1)[0]
            log.error("jupyter-svc: %s is a state file set aside earlier; %r stays refused until it "
                      "is fixed and moved back to %s.json, or deleted", old, name, name)
            self.set_aside[name] = old
        for path in sorted(self.directory.glob("*.json")):
            try:
                out.append(self._parse(path))
            except OSError as exc:
                self._set_aside(path, f"cannot read it: {exc}")
            except StateUnreadable as exc:
                self._set_aside(path, str(exc))
        return out

    async def load(self) -> list[tuple[ServiceSpec, ServiceStatus]]:
        return await asyncio.to_thread(self._read_all)
