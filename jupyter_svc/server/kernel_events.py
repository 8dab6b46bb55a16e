"""Kernels' ends, from the Jupyter server's own kernel manager, for services bound to a kernel.

jupyter_server's kernel manager emits a ``kernel_actions`` event (jupyter_events) for every start,
shutdown, restart and interrupt, culled kernels included; listening to it costs nothing between
events and needs no polling from the kernel. The lifetime loop knows kernels only by id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_svc.services.lifetimes import LifetimeKeeper

KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
_ENDINGS = {"shutdown": "shut down", "restart": "restarted"}


def kernel_alive(serverapp: Any) -> Callable[[str], bool] | None:
    """``id -> bool``: whether the server runs that kernel now (None: it has no kernel manager)."""
    kernels = getattr(serverapp, "kernel_manager", None)
    if kernels is None:
        return None

    def alive(kernel_id: str) -> bool:
        return kernel_id in kernels

    return alive


def watch_kernels(serverapp: Any, keeper: LifetimeKeeper) -> None:
    """Route the kernel manager's shutdown and restart events to ``keeper``."""
    events = getattr(serverapp, "event_logger", None)
    if events is None:
        return

    async def on_kernel_action(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        ending = _ENDINGS.get(data.get("action", ""))
        kernel_id = data.get("kernel_id")
        if ending and kernel_id and data.get("status") == "success":
            keeper.kernel_ended(kernel_id, ending)

    events.add_listener(schema_id=KERNEL_ACTIONS, listener=on_kernel_action)
