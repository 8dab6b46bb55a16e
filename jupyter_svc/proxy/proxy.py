"""The proxy as a whole: its settings, the pooled client and loop mark every request shares, and the
hold of requests through a wake (many requests, one start)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.model.errors import Unavailable
from jupyter_svc.model.status import ServiceState
from jupyter_svc.services.activity import ActivityTracker
from jupyter_svc.services.manager import ServiceManager
from jupyter_svc.services.metrics import Metrics
from jupyter_svc.upstream.pool import UpstreamPool

from .access import AccessMemo, SuccessLog
from .loops import HopMark


@dataclass
class ProxySettings:
    wake_timeout: float = 120.0
    max_held_requests: int = 1000
    wake_page: bool = True
    max_body_size: int = 10 * 1024**3
    websocket_max_message_size: int = 64 * 1024**2
    auth_cache_seconds: float = 10.0
    websockets_per_service: int = 256


class Proxy:
    """What every proxy request shares: the pooled client, the wake queue counts."""

    def __init__(self, manager: ServiceManager, tracker: ActivityTracker, metrics: Metrics,
                 settings: ProxySettings, upstream: UpstreamPool) -> None:
        self.manager, self.tracker, self.metrics, self.settings = manager, tracker, metrics, settings
        self.held: dict[str, int] = {}
        self.sockets: dict[str, int] = {}  # WebSockets open (or in their handshake) per service
        self.access = AccessMemo(settings.auth_cache_seconds)
        self.upstream = upstream
        self.hops = HopMark()
        self.success_log: SuccessLog | None = None  # set by the first request

    async def close(self) -> None:
        await self.upstream.close()

    def take_socket(self, name: str) -> bool:
        """Count one more WebSocket of ``name``; False at ``websockets_per_service``. A tunnel
        holds its own connection for as long as it is open, outside the upstream pool's limits, so
        without this count one service's sockets could take every file descriptor of the server."""
        open_now = self.sockets.get(name, 0)
        if open_now >= self.settings.websockets_per_service:
            return False
        self.sockets[name] = open_now + 1
        return True

    def give_socket(self, name: str) -> None:
        left = self.sockets.get(name, 0) - 1
        if left > 0:
            self.sockets[name] = left
        else:
            self.sockets.pop(name, None)

    async def endpoint(self, name: str) -> tuple[Endpoint, bool]:
        """A ready endpoint, holding the caller through a wake; True if it was a cold start."""
        manager = self.manager
        svc = manager.service(name)
        external = manager.external_endpoint(name)
        if external is not None:
            if svc.status.state is ServiceState.disabled:
                raise Unavailable(f"{name} is disabled; enable it to use it")
            return external, False
        if svc.status.state is ServiceState.ready and svc.instance is not None:
            return svc.instance.endpoint, False
        held = self.held.get(name, 0)
        if held >= self.settings.max_held_requests:
            raise Unavailable(f"{name} is waking up and {held} requests are already waiting; retry shortly")
        self.held[name] = held + 1
        started = time.monotonic()
        woke = svc.ready is None
        try:
            endpoint = await manager.ensure_ready(name, self.settings.wake_timeout)
        finally:
            self.held[name] -= 1
        if woke:
            self.metrics.wakes.labels(name).inc()
        self.metrics.cold_start.labels(name).observe(time.monotonic() - started)
        return endpoint, True
