"""Traffic and idleness: who is using which service, and when each one should scale to zero.

The proxy reports every request, response chunk and WebSocket message here with a monotonic
timestamp (no allocation on the hot path). A one-second loop turns that into statuses
(``last_activity``, ``idle_deadline``), scales idle services to zero, and keeps Jupyter's own
idleness (``last_activity_times``) honest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceState

from .manager import ServiceManager
from .metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class Usage:
    """One service's traffic, in monotonic seconds."""

    last: float = field(default_factory=time.monotonic)
    in_flight: int = 0
    sockets: dict[int, float] = field(default_factory=dict)  # id -> last message time
    closers: dict[int, Callable[[int, str], None]] = field(default_factory=dict)


@dataclass
class ActivitySettings:
    default_idle_window: float = 0.0  # 0: services without a window stay up
    check_interval: float = 1.0
    drain_timeout: float = 10.0
    websocket_idle_timeout: float = 0.0  # 0: an open WebSocket always counts as activity
    exclude_paths: list[str] = field(default_factory=list)  # regexes of paths that are not activity
    count_as_server_activity: bool = True


class ActivityTracker:
    def __init__(self, manager: ServiceManager, settings: ActivitySettings, metrics: Metrics,
                 server_settings: dict[str, Any] | None = None) -> None:
        self.manager = manager
        self.settings = settings
        self.metrics = metrics
        self.server_settings = server_settings if server_settings is not None else {}
        self.usage: dict[str, Usage] = {}
        self._excluded = [re.compile(p) for p in settings.exclude_paths]
        self._last_traffic = 0.0  # monotonic time of the newest traffic, for the server's idleness
        self._task: asyncio.Task[None] | None = None
        self._scaling: set[str] = set()
        self._mono_offset = time.time() - time.monotonic()

    # --------------------------------------------------------------- hot path (proxy)
    def _usage(self, name: str) -> Usage:
        usage = self.usage.get(name)
        if usage is None:
            usage = self.usage[name] = Usage()
        return usage

    def counts(self, path: str) -> bool:
        return not any(p.search(path) for p in self._excluded)

    def touch(self, name: str) -> None:
        now = time.monotonic()
        self._usage(name).last = now
        self._last_traffic = now

    def begin(self, name: str, counted: bool = True) -> None:
        usage = self._usage(name)
        usage.in_flight += 1
        if counted:
            usage.last = self._last_traffic = time.monotonic()
        self.metrics.child(self.metrics.active, name).inc()

    def end(self, name: str, counted: bool = True) -> None:
        usage = self._usage(name)
        usage.in_flight -= 1
        if counted:
            usage.last = self._last_traffic = time.monotonic()
        self.metrics.child(self.metrics.active, name).dec()

    def socket_opened(self, name: str, key: int, close: Callable[[int, str], None]) -> None:
        usage = self._usage(name)
        usage.sockets[key] = usage.last = self._last_traffic = time.monotonic()
        usage.closers[key] = close
        self.metrics.child(self.metrics.active, name).inc()

    def socket_message(self, name: str, key: int) -> None:
        usage = self._usage(name)
        usage.sockets[key] = usage.last = self._last_traffic = time.monotonic()

    def socket_closed(self, name: str, key: int) -> None:
        usage = self._usage(name)
        if usage.sockets.pop(key, None) is not None:
            self.metrics.child(self.metrics.active, name).dec()
        usage.closers.pop(key, None)

    # --------------------------------------------------------------- decisions
    def busy(self, usage: Usage, now: float) -> bool:
        if usage.in_flight > 0:
            return True
        timeout = self.settings.websocket_idle_timeout
        return any(timeout <= 0 or now - seen < timeout for seen in usage.sockets.values())

    def window_of(self, spec: ServiceSpec) -> float:
        window = spec.scale_to_zero
        return self.settings.default_idle_window if window is None else window

    async def drain(self, name: str, deadline: float) -> None:
        """Before an instance stops: close its WebSockets, let in-flight requests finish."""
        usage = self.usage.get(name)
        if usage is None:
            return
        for close in list(usage.closers.values()):
            with contextlib.suppress(Exception):
                close(1001, "service is scaling to zero")
        end = time.monotonic() + min(deadline, self.settings.drain_timeout)
        while usage.in_flight > 0 and time.monotonic() < end:
            await asyncio.sleep(0.02)

    def wall(self, monotonic: float) -> datetime:
        return datetime.fromtimestamp(monotonic + self._mono_offset, timezone.utc)

    def monotonic(self, wall: datetime) -> float:
        """The inverse of ``wall``: the same instant reads the same on every pass."""
        return wall.timestamp() - self._mono_offset

    async def check(self) -> None:
        """One pass: refresh statuses (through the manager, which publishes what changed), scale
        down what has been idle past its window."""
        now, manager = time.monotonic(), self.manager
        for name in [n for n in self.usage if n not in manager.services]:
            del self.usage[name]
        for name, svc in list(manager.services.items()):
            if svc.deleted:
                continue
            usage = self._usage(name)
            ready = svc.status.state is ServiceState.ready and svc.instance is not None
            if not ready:
                manager.note(svc, idle_deadline=None)
                continue
            if self.busy(usage, now):
                usage.last = now
            started = svc.status.started_at
            last = max(usage.last, self.monotonic(started)) if started else usage.last
            window = self.window_of(svc.spec)
            warm = svc.status.keep_warm is not None and svc.status.keep_warm.warm  # services/lifetimes.py
            if window <= 0 or svc.spec.url is not None or warm:
                manager.note(svc, last_activity=self.wall(last), idle_deadline=None)
                continue
            manager.note(svc, last_activity=self.wall(last), idle_deadline=self.wall(last) + timedelta(seconds=window))
            if now - last >= window and name not in self._scaling:
                log.info("jupyter-svc: %s idle for %.0fs, scaling to zero", name, now - last)
                self._scaling.add(name)
                task = self.manager.spawn(self.manager.scale_to_zero(
                    name, f"scaled to zero after {window:g}s without traffic"))
                task.add_done_callback(self._scaling_done(name))
        if self.settings.count_as_server_activity and self._last_traffic:
            times = self.server_settings.setdefault("last_activity_times", {})
            times["jupyter_svc"] = self.wall(self._last_traffic)
        self.metrics.observe_states(svc.status.state.value for svc in self.manager.services.values())

    def _scaling_done(self, name: str) -> Callable[[asyncio.Task[Any]], None]:
        return lambda _: self._scaling.discard(name)

    async def _loop(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the loop must outlive any one bad pass
                log.exception("jupyter-svc: activity check failed")
            await asyncio.sleep(self.settings.check_interval)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def active_now(self) -> bool:
        """Traffic in flight right now: what the server's own idle shutdown should respect."""
        now = time.monotonic()
        return any(self.busy(u, now) for u in self.usage.values())
