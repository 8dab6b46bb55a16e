"""Lifetimes beyond traffic: keep-warm windows, services bound to a kernel, expiry.

One loop, beside the idle loop, reads the manager's clock (the tests' seam) and each spec's
``keep_warm``, ``kernel`` and ``expires_after``: it publishes where each schedule stands (the idle
loop never scales a warm service down), starts a service shortly before its window opens, and
deletes what has expired. Kernel ends arrive as calls from the server's kernel-manager events
(server/kernel_events.py); this module knows kernels only by id, so it works on any backend.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jupyter_svc.model.errors import Conflict, FieldError, NotFound, SvcError
from jupyter_svc.model.lifetimes import KeepWarmStatus, KeepWarmWindow, KernelEnd, schedule_status
from jupyter_svc.model.spec import DesiredState, ServiceSpec
from jupyter_svc.model.status import ServiceState, ServiceStatus
from jupyter_svc.model.units import format_duration

from .lifecycle import ManagedService
from .manager import ServiceManager

log = logging.getLogger(__name__)


@dataclass
class LifetimeSettings:
    check_interval: float = 1.0
    keep_warm_lead: float = 60.0  # seconds before a window opens that the service is started


class LifetimeKeeper:
    def __init__(self, manager: ServiceManager, settings: LifetimeSettings,
                 kernel_alive: Callable[[str], bool] | None = None) -> None:
        self.manager = manager
        self.settings = settings
        #: whether a kernel id runs in this server; None: this server has no kernels to bind to
        self.kernel_alive = kernel_alive
        self._task: asyncio.Task[None] | None = None
        self._running = False
        self._acting: set[str] = set()  # names with a wake or a removal under way
        #: name -> (windows, when computed, status): a schedule is read again only when it changes
        self._schedules: dict[str, tuple[list[KeepWarmWindow], datetime, KeepWarmStatus | None]] = {}
        manager.spec_checks.append(self.check)
        manager.status_fillers.append(self.fill)

    # ------------------------------------------------------------ validation
    def check(self, spec: ServiceSpec) -> list[FieldError]:
        """A service can only be bound to a kernel this server runs now."""
        if spec.kernel is None:
            return []
        current = self.manager.services.get(spec.name)
        if current is not None and current.spec.kernel == spec.kernel:
            return []  # unchanged: its kernel may have ended while this update waited
        if self.kernel_alive is None or not self.kernel_alive(spec.kernel.id):
            return [FieldError("kernel.id", f"no kernel {spec.kernel.id!r} runs in this server")]
        return []

    def _reading(self, spec: ServiceSpec, status: ServiceStatus, now: datetime) -> dict[str, Any]:
        changed = status.changed_at or now
        expires = changed + timedelta(seconds=spec.expires_after) if spec.expires_after else None
        return {"keep_warm": self._schedule(spec.name, spec.keep_warm, now), "expires_at": expires,
                "changed_at": changed}

    def fill(self, spec: ServiceSpec, status: ServiceStatus) -> None:
        """A new spec's schedule and expiry, in the status the API answers with."""
        for key, value in self._reading(spec, status, self.manager.clock.now()).items():
            setattr(status, key, value)

    # ------------------------------------------------------------ the loop
    def check_all(self) -> None:
        """One pass: statuses of schedules and expiries, starts ahead of windows, removals."""
        now = self.manager.clock.now()
        for name in [n for n in self._schedules if n not in self.manager.services]:
            del self._schedules[name]
        for name, svc in list(self.manager.services.items()):
            if svc.deleted or _without_lifetime(svc.spec, svc.status):
                continue
            reading = self._reading(svc.spec, svc.status, now)
            self.manager.note(svc, **reading)
            schedule, expires = reading["keep_warm"], reading["expires_at"]
            if expires is not None and now >= expires:
                self._act(name, self._expire(svc))
            elif schedule is not None and schedule.warm and self._wakeable(svc):
                log.info("jupyter-svc: %s: keep-warm window, starting it", name)
                self._act(name, self._wake(name))

    def _schedule(self, name: str, windows: list[KeepWarmWindow], now: datetime) -> KeepWarmStatus | None:
        """The schedule's status, computed again only when its windows change or its next change
        passes (cron arithmetic is ~1 ms a service: not every second for hundreds of them)."""
        cached = self._schedules.get(name)
        if cached is not None and cached[0] == windows and cached[1] <= now:
            status = cached[2]
            if status is None or status.next_change is None or now < status.next_change:
                return status
        status = schedule_status(windows, now, self.settings.keep_warm_lead)
        self._schedules[name] = (windows, now, status)
        return status

    @staticmethod
    def _wakeable(svc: ManagedService) -> bool:
        return (svc.spec.desired_state is DesiredState.ready and svc.spec.url is None and svc.ready is None
                and svc.status.state is ServiceState.scaled_to_zero and svc.instance is None)

    def _act(self, name: str, coro: Any) -> None:
        if name in self._acting:
            coro.close()
            return
        self._acting.add(name)
        self.manager.spawn(coro).add_done_callback(lambda _: self._acting.discard(name))

    async def _wake(self, name: str) -> None:
        with contextlib.suppress(NotFound):
            try:
                await (await self.manager.wake(name))
            except SvcError as exc:  # its status says why; the next pass may try again
                log.warning("jupyter-svc: %s: keep-warm start failed: %s", name, exc)

    async def _expire(self, svc: ManagedService) -> None:
        assert svc.spec.expires_after is not None
        why = f"expired {format_duration(svc.spec.expires_after)} after its last change"
        await self._remove(svc, why, KernelEnd.delete)

    async def _remove(self, svc: ManagedService, why: str, how: KernelEnd) -> None:
        """Delete (or scale to zero) with a log line and a published status that says why; a service
        others depend on is scaled to zero instead, and says so."""
        name = svc.name
        if svc.deleted:
            return
        log.info("jupyter-svc: %s: %s; %s", name, why, "deleting it" if how is KernelEnd.delete else "scaling to zero")
        self.manager.note(svc, message=why)
        if how is KernelEnd.delete:
            try:
                await self.manager.delete(name)
                return
            except NotFound:
                return
            except Conflict as exc:  # dependents: it stays, at zero
                log.warning("jupyter-svc: %s: not deleted: %s", name, exc)
            except SvcError as exc:
                log.error("jupyter-svc: %s: could not delete it: %s", name, exc)
                return
        await self.manager.scale_to_zero(name, why)

    # ------------------------------------------------------------ kernels
    def kernel_ended(self, kernel_id: str, how: str) -> None:
        """The server's kernel manager shut down or restarted ``kernel_id``: its services go."""
        if not self._running:
            return  # not started, or stopped with the server: the next start reconciles
        for name, svc in list(self.manager.services.items()):
            binding = svc.spec.kernel
            if binding is None or binding.id != kernel_id or svc.deleted:
                continue
            why = f"its kernel {kernel_id} {how}" + (f" ({binding.path})" if binding.path else "")
            self._act(name, self._remove(svc, why, binding.on_end))

    def reconcile_kernels(self) -> None:
        """After a server restart: services bound to a kernel that no longer runs go the same way."""
        if self.kernel_alive is None:
            return
        for svc in list(self.manager.services.values()):
            binding = svc.spec.kernel
            if binding is not None and not self.kernel_alive(binding.id):
                self.kernel_ended(binding.id, "is gone")

    async def _loop(self) -> None:
        while True:
            try:
                self.check_all()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("jupyter-svc: lifetime check failed")
            await asyncio.sleep(self.settings.check_interval)

    def start(self) -> None:
        self._running = True
        self.reconcile_kernels()
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        self._running = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _without_lifetime(spec: ServiceSpec, status: ServiceStatus) -> bool:
    """No window or expiry in its spec, none left in its status: nothing for this pass to compute
    (most services; ``fill`` resets the status when a spec drops its lifetime)."""
    return (not spec.keep_warm and not spec.expires_after and status.changed_at is not None
            and status.keep_warm is None and status.expires_at is None)
