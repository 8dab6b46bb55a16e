"""Prometheus metrics of the proxy and the services, in a registry of the extension's own."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from jupyter_svc.model.status import ServiceState


class Metrics:
    def __init__(self) -> None:
        # an own registry: two servers in one process (tests) never collide on names
        self.registry = CollectorRegistry()
        self.requests = Counter("jupyter_svc_proxy_requests", "Proxied HTTP requests",
                                ["service", "code"], registry=self.registry)
        self.errors = Counter("jupyter_svc_proxy_errors", "Proxy errors by kind",
                              ["service", "kind"], registry=self.registry)
        self.active = Gauge("jupyter_svc_proxy_active_connections",
                            "Requests in flight and open WebSockets", ["service"], registry=self.registry)
        self.wakes = Counter("jupyter_svc_wakes", "Starts triggered by a request to a service at zero",
                             ["service"], registry=self.registry)
        self.cold_start = Histogram("jupyter_svc_cold_start_seconds", "Time requests were held for a wake",
                                    ["service"], registry=self.registry,
                                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120))
        self.states = Gauge("jupyter_svc_services", "Services by state", ["state"], registry=self.registry)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus_client's lookup costs a few us,
        which the proxy would otherwise pay several times per request."""
        found = self._children.get((metric, labels))
        if found is None:
            found = self._children[metric, labels] = metric.labels(*labels)
        return found

    def request_done(self, service: str, code: int) -> None:
        self.child(self.requests, service, str(code)).inc()

    def observe_states(self, states: Iterable[str]) -> None:
        tally = Tally(states)
        for state in ServiceState:
            self.states.labels(state.value).set(tally.get(state.value, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
