"""A server's start: every stored service back as it was, adopting instances that outlived the
server where their backend can (JupyterHub's ``load_state``), and removing what a backend runs
for services this server no longer knows.

A service at zero stays at zero (a request or a wake starts it); any other is first offered to its
backend's ``adopt`` with the state its instance kept (``Instance.state()``, stored beside the
spec), and only started anew when nothing is adopted: an adopted instance is not restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from jupyter_svc.backends.base import NotReady
from jupyter_svc.model.errors import SvcError, Unavailable
from jupyter_svc.model.spec import DesiredState
from jupyter_svc.model.status import ServiceState

from .lifecycle import ManagedService

if TYPE_CHECKING:
    from .manager import ServiceManager

log = logging.getLogger(__name__)


async def restore(manager: ServiceManager) -> None:
    """Load every stored service, adopt or start it (as operations under its lock), then let each
    backend remove the objects of services nobody stores any more."""
    store = manager.store
    for spec, status in await store.load():
        backend = manager.backends.get(spec.backend or manager.default_backend)
        if backend is None:
            why = (f"the stored spec of {spec.name!r} names the backend {spec.backend!r}, which this "
                   f"server does not have; it is kept in {store.directory} and not run")
            log.error("jupyter-svc: %s", why)
            manager.unrestored[spec.name] = why
            continue
        was_ready = status.state is ServiceState.ready
        status.replicas_ready = 0
        status.url = manager.url_of(spec.name)
        status.backend = backend.name
        svc = ManagedService(spec=spec, status=status, backend=backend)
        manager.services[spec.name] = svc
        state = store.backend_states.pop(spec.name, None)
        if status.state is ServiceState.scaled_to_zero and spec.url is None:
            # it was at zero when the server stopped: it stays there until a request wakes it
            manager.lifecycle.set_state(svc, ServiceState.scaled_to_zero, status.message)
            continue
        if state and was_ready and spec.url is None and spec.desired_state is DesiredState.ready:
            # not "ready" (as stored) until the adoption says so: readers must not take the stored
            # status for the adopted instance's
            manager.lifecycle.set_state(svc, ServiceState.starting, "adopting the instance that outlived the server")
            manager.operation(svc, _adopt_or_start(manager, svc, state))
        else:
            manager.operation(svc, manager.converge(svc, fresh=True))
    known = set(manager.services) | set(manager.unrestored) | set(store.set_aside)
    for backend in manager.backends.values():
        try:
            removed = await backend.cleanup_orphans(frozenset(known))
        except SvcError as exc:
            log.error("jupyter-svc: the %s backend could not remove orphaned services: %s", backend.name, exc)
            continue
        if removed:
            log.warning("jupyter-svc: the %s backend removed %d orphaned service(s)", backend.name, removed)


async def _adopt_or_start(manager: ServiceManager, svc: ManagedService, state: Mapping[str, Any]) -> None:
    """The instance that outlived the server, once ready, else a fresh start (caller holds the lock)."""
    lifecycle = manager.lifecycle
    started_at = svc.status.started_at
    try:
        instance = await svc.backend.adopt(svc.spec, state, lifecycle.context_for(svc))
    except SvcError as exc:
        log.warning("jupyter-svc: could not adopt the running %s (%s); starting it anew", svc.name, exc)
        instance = None
    if instance is not None:
        try:
            await instance.wait_ready(lifecycle.ready_check(svc, svc.spec))
        except NotReady as exc:
            log.warning("jupyter-svc: the adopted %s is not ready (%s); starting it anew", svc.name, exc)
            await instance.stop(lifecycle.settings.stop_grace)
        else:
            lifecycle.serve_with(svc, instance, started_at)
            lifecycle.set_state(svc, ServiceState.ready, "adopted after a server restart")
            log.info("jupyter-svc: adopted the running %s at %s", svc.name, instance.endpoint.base)
            return
    await manager.converge(svc, fresh=True)


class Restored:
    """Whether the start's restore is done. The server answers before its extensions start, and
    the restore waits for what a killed predecessor left to stop: until then the list was empty
    and every name unknown (a 404), so requests wait for it (bounded: then a 503)."""

    def __init__(self) -> None:
        self.done = asyncio.Event()

    async def wait(self, timeout: float = 60.0) -> None:
        if self.done.is_set():
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.done.wait(), timeout)
        if not self.done.is_set():
            raise Unavailable("jupyter-svc is still restoring its services; retry shortly")
