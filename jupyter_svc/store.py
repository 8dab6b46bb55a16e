"""Specs and last known statuses on disk, one JSON file per service, written atomically.

A write goes to a temporary file in the same folder, then is renamed over the old one: a crash at
any point leaves either the old file or the new one, never a torn one. When the spec changed, the
file is fsynced first, in a thread (what the user asked for must survive a power cut). A write
that only changes the status (waking, ready, counters) skips the fsync and runs inline: ~0.1 ms
instead of a thread hop whose GIL contention held a request waiting on a wake for ~0.7 ms.
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

from .spec import ServiceSpec
from .status import ServiceStatus

log = logging.getLogger(__name__)


class Store:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._durable_specs: dict[str, str] = {}  # the spec JSON last fsynced, per service

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

    async def save(self, spec: ServiceSpec, status: ServiceStatus) -> None:
        await asyncio.sleep(0)  # let what a state change released (held requests) go out first
        spec_json = json.dumps(spec.model_dump(mode="json"), indent=1)
        payload = f'{{"spec": {spec_json},\n"status": {json.dumps(status.model_dump(mode="json"), indent=1)}}}\n'
        async with self._locks[spec.name]:
            if self._durable_specs.get(spec.name) == spec_json:
                self._write(spec.name, payload, fsync=False)
                return
            await asyncio.to_thread(self._write, spec.name, payload, True)
            self._durable_specs[spec.name] = spec_json

    async def delete(self, name: str) -> None:
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
