"""Specs and last known statuses on disk, one JSON file per service, written atomically.

A write goes to a temporary file in the same folder, then is renamed over the old one: a crash at
any point leaves either the old file or the new one, never a torn one. When the spec changed, the
file is fsynced first, in a thread (what the user asked for must survive a power cut). A change
of status alone (waking, ready, counters) is written later, without fsync, coalesced: a wake's
"waking" and "ready" become one write, made after the requests it held have gone out (inline they
cost those requests ~0.5 ms of event loop time on the wake path). A crash loses at most the last
STATUS_WRITE_DELAY of statuses, never a spec.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections import defaultdict
from pathlib import Path

from pydantic import ValidationError

from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceStatus

log = logging.getLogger(__name__)

#: Seconds a status-only change may wait before it is written (see the module docstring).
STATUS_WRITE_DELAY = 0.5


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._durable_specs: dict[str, str] = {}  # the spec JSON last fsynced, per service
        self._durable: dict[str, ServiceSpec] = {}  # ... and the object it came from
        self._pending: dict[str, tuple[ServiceSpec, ServiceStatus]] = {}  # statuses to write later
        self._timer: asyncio.TimerHandle | None = None

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

    @staticmethod
    def _payload(spec_json: str, status: ServiceStatus) -> str:
        return f'{{"spec": {spec_json},\n"status": {json.dumps(status.model_dump(mode="json"), indent=1)}}}\n'

    def is_durable(self, spec: ServiceSpec) -> bool:
        """True if this very spec object is on disk already (specs are replaced, never mutated)."""
        return self._durable.get(spec.name) is spec

    async def save(self, spec: ServiceSpec, status: ServiceStatus) -> None:
        """Write now: fsynced if the spec changed since the last durable write."""
        self._pending.pop(spec.name, None)  # this write carries a newer status
        spec_json = json.dumps(spec.model_dump(mode="json"), indent=1)
        payload = self._payload(spec_json, status)
        async with self._locks[spec.name]:
            if self._durable_specs.get(spec.name) == spec_json:
                self._write(spec.name, payload, fsync=False)
            else:
                await asyncio.to_thread(self._write, spec.name, payload, True)
                self._durable_specs[spec.name] = spec_json
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
                self._write(name, self._payload(self._durable_specs[name], status), fsync=False)
            except OSError as exc:
                log.error("jupyter-svc: cannot write the status of %s: %s", name, exc)

    async def delete(self, name: str) -> None:
        self._pending.pop(name, None)
        self._durable.pop(name, None)
        async with self._locks[name]:
            await asyncio.to_thread(self._path(name).unlink, True)
        self._locks.pop(name, None)
        self._durable_specs.pop(name, None)

    def _read_all(self) -> list[tuple[ServiceSpec, ServiceStatus]]:
        out: list[tuple[ServiceSpec, ServiceStatus]] = []
        if not self.directory.is_dir():
            return out
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                spec = ServiceSpec.model_validate(data["spec"])
                status = ServiceStatus.model_validate(data.get("status") or {})
            except (OSError, ValueError, KeyError, ValidationError) as exc:
                # kept on disk for a person to look at; never silently deleted
                log.error("jupyter-svc: cannot restore %s: %s", path, exc)
                continue
            out.append((spec, status))
        return out

    async def load(self) -> list[tuple[ServiceSpec, ServiceStatus]]:
        return await asyncio.to_thread(self._read_all)
