"""The Jupyter server's idleness in one document: kernels, terminals, API and services."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from jupyter_svc.model.status import ServiceState
from jupyter_svc.services.activity import ActivityTracker

_RUNNING = {ServiceState.ready.value, ServiceState.starting.value, ServiceState.waking.value}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def activity_document(settings: dict[str, Any], tracker: ActivityTracker) -> dict[str, Any]:
    moments: list[datetime] = []
    kernels: dict[str, Any] = {"count": 0, "busy": 0, "last_activity": None}
    kernel_manager = settings.get("kernel_manager")
    if kernel_manager is not None:
        for kernel_id in kernel_manager.list_kernel_ids():
            kernel = kernel_manager.get_kernel(kernel_id)
            kernels["count"] += 1
            kernels["busy"] += getattr(kernel, "execution_state", "") == "busy"
            seen = getattr(kernel, "last_activity", None)
            if seen and (kernels["last_activity"] is None or seen > kernels["last_activity"]):
                kernels["last_activity"] = seen
    terminals: dict[str, Any] = {"count": 0, "last_activity": None}
    terminal_manager = settings.get("terminal_manager")
    for term in (getattr(terminal_manager, "terminals", None) or {}).values():
        terminals["count"] += 1
        seen = getattr(term, "last_activity", None)
        if seen and (terminals["last_activity"] is None or seen > terminals["last_activity"]):
            terminals["last_activity"] = seen
    now = time.monotonic()
    services: dict[str, Any] = {}
    for name, svc in tracker.manager.services.items():
        usage = tracker.usage.get(name)
        services[name] = {
            "state": svc.status.state.value,
            "last_activity": _iso(svc.status.last_activity),
            "idle_deadline": _iso(svc.status.idle_deadline),
            "in_flight": usage.in_flight if usage else 0,
            "websockets": len(usage.sockets) if usage else 0,
            "busy": tracker.busy(usage, now) if usage else False,
        }
    service_last = max((s.status.last_activity for s in tracker.manager.services.values()
                        if s.status.last_activity), default=None)
    api_last = settings.get("api_last_activity")
    started = settings.get("started")
    for moment in (kernels["last_activity"], terminals["last_activity"], api_last, service_last, started):
        if moment is not None:
            moments.append(moment)
    busy = kernels["busy"] > 0 or any(s["busy"] for s in services.values())
    return {
        "busy": busy,
        "last_activity": _iso(max(moments)) if moments else None,
        "started": _iso(started),
        "api_last_activity": _iso(api_last),
        "kernels": {**kernels, "last_activity": _iso(kernels["last_activity"])},
        "terminals": {**terminals, "last_activity": _iso(terminals["last_activity"])},
        "services": {
            "count": len(services),
            "running": sum(s["state"] in _RUNNING for s in services.values()),
            "last_activity": _iso(service_last),
            "by_name": services,
        },
    }
