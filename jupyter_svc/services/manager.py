"""Desired state and the operations on it; the only writer of specs and statuses.

Every operation validates first (so bad input fails fast and changes nothing), then runs under
the service's own lock as a task: callers may await it or let it go on and watch the status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from jupyter_svc.backends.base import Backend, Endpoint, LaunchContext, UpdateStrategy, endpoint_of_url
from jupyter_svc.model.errors import Conflict, FieldError, NotFound, SpecInvalid, StillStarting, SvcError, Unavailable
from jupyter_svc.model.merge_patch import merge_patch
from jupyter_svc.model.placeholders import env_var_for
from jupyter_svc.model.spec import DesiredState, ServiceSpec
from jupyter_svc.model.status import ServiceState, ServiceStatus, ServiceView
from jupyter_svc.upstream.pool import UpstreamPool

from .clock import Clock
from .events import Event, EventHub
from .lifecycle import Lifecycle, LifecycleSettings, ManagedService, StartFailed
from .restore import Restored, restore
from .self_address import ServerAddress
from .store import StorageFailed, Store
from .validation import check_cycles, check_spec, check_url, parse_spec

Operation = asyncio.Task[ServiceView]
log = logging.getLogger(__name__)


class ServiceManager:
    def __init__(self, store: Store, backends: dict[str, Backend], default_backend: str,
                 settings: LifecycleSettings, upstream: UpstreamPool, base_url: str = "/",
                 server_url: str = "") -> None:
        self.store = store
        self.backends = backends
        self.default_backend = default_backend
        self.base_url = base_url
        self.server_url = server_url.rstrip("/")
        self.services: dict[str, ManagedService] = {}
        self.lifecycle = Lifecycle(settings, self._context_for, self._publish, self.spawn, upstream)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.events = EventHub()
        self.server_address = ServerAddress()  # filled in once the server listens
        #: stored services this server cannot serve, with why (their names are refused)
        self.unrestored: dict[str, str] = {}
        #: set when this server serves no services at all (another server holds the state folder)
        self.refusing: str | None = None
        self.restored = Restored()  # requests wait for it (the server answers before start())
        self._creating: set[str] = set()  # names whose first save is under way
        self._saved_ahead: dict[str, ServiceSpec] = {}  # durable specs whose update is still queued
        self.clock = Clock()  # schedules and expiries read it (services/lifetimes.py)
        #: a new spec's checks against what this server runs (its kernel), and what it adds to its status
        self.spec_checks: list[Callable[[ServiceSpec], list[FieldError]]] = []
        self.status_fillers: list[Callable[[ServiceSpec, ServiceStatus], None]] = []

    # ---------------------------------------------------------------- plumbing
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._settled)
        return task

    def _settled(self, task: asyncio.Task[Any]) -> None:
        """A failed operation nobody awaited (no ``?wait``): its failure is in the status already."""
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if isinstance(error, SvcError):
            log.info("jupyter-svc: %s", error)
        elif error is not None:
            log.error("jupyter-svc: an operation failed", exc_info=error)

    def url_of(self, name: str) -> str:
        return f"{self.base_url}svc/{name}/"

    def _context_for(self, svc: ManagedService) -> LaunchContext:
        deps = {env_var_for(d): f"{self.server_url}{self.url_of(d)}" for d in svc.spec.depends_on}
        return LaunchContext(base_url=self.url_of(svc.name), env=deps)

    def view(self, svc: ManagedService) -> ServiceView:
        return ServiceView(name=svc.name, spec=svc.spec, status=svc.status.model_copy())

    def _publish(self, svc: ManagedService) -> None:
        if svc.deleted:
            return
        svc.status.revision += 1
        state = svc.instance.state() if svc.instance is not None else {}
        if state != self.store.backend_states.get(svc.name, {}):  # what a restarted server adopts: written
            self.store.backend_states[svc.name] = state  # on this turn's end, not coalesced (kill -9 safe)
            if self.store.is_durable(svc.spec):
                asyncio.get_running_loop().call_soon(self.store.flush)
        if self.events.listening:
            self.events.publish(Event("service", svc.name, self.view(svc)))
        if self.store.is_durable(svc.spec):
            self.store.save_status_later(svc.spec, svc.status)
        elif svc.name not in self._saved_ahead:  # else the queued update's publish writes it
            self.spawn(self._save_logged(svc))

    async def _save_logged(self, svc: ManagedService) -> None:
        """A save nobody awaits (a reverted update's old spec): its failure is logged by the store."""
        if not svc.deleted:  # deleted since it was queued: writing would bring the file back
            with contextlib.suppress(StorageFailed):
                await self.store.save(svc.spec, svc.status)

    def subscribe(self) -> AsyncIterator[Event]:
        """Every change from now on, in order; the caller stops by leaving the loop."""
        return self.events.subscribe()

    def service(self, name: str) -> ManagedService:
        """The service's record, for a caller that reads it now; NotFound once it is gone, or
        going (a deletion under way), so that no one keeps using or waking it."""
        if self.refusing is not None:
            raise Unavailable(self.refusing)
        svc = self.services.get(name)
        if svc is None or svc.deleted:
            raise NotFound(f"no service named {name!r}")
        return svc

    def _backend_for(self, spec: ServiceSpec) -> Backend:
        return self.backends[spec.backend or self.default_backend]

    def operation(self, svc: ManagedService, coro: Coroutine[Any, Any, None]) -> Operation:
        async def run() -> ServiceView:
            async with svc.lock:
                if svc.deleted:  # queued before a deletion that went first
                    coro.close()
                    raise NotFound(f"no service named {svc.name!r}")
                await coro
            return self.view(svc)

        return self.spawn(run())

    # ---------------------------------------------------------------- validation (validation.py)
    def parse(self, data: Any, prefix: str = "") -> ServiceSpec:
        return parse_spec(data, prefix)

    def validate(self, spec: ServiceSpec, known: set[str] | None = None, prefix: str = "") -> None:
        check_spec(spec, self.backends, self.default_backend, set(self.services) if known is None else known, prefix)

    async def check_url(self, spec: ServiceSpec, prefix: str = "") -> list[FieldError]:
        return await check_url(spec, self.server_address, prefix)

    # ---------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Restore every stored service as it was, adopting what outlived the server (restore.py)."""
        try:
            await restore(self)
        finally:
            self.restored.done.set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        stops = [svc.instance.stop(self.lifecycle.settings.stop_grace) for svc in self.services.values()
                 if svc.instance is not None and not svc.backend.outlives_server]  # those are adopted later
        await asyncio.gather(*stops, return_exceptions=True)
        for backend in self.backends.values():
            await backend.close()
        self.store.flush()

    async def converge(self, svc: ManagedService, fresh: bool = False,
                        old: ServiceSpec | None = None) -> None:
        """Move what runs towards the spec (caller holds the lock)."""
        desired = svc.spec.desired_state
        if svc.spec.url is not None:  # external: nothing to run, only to route
            svc.instance = None
            self.lifecycle.set_state(
                svc, ServiceState.disabled if desired is DesiredState.disabled else ServiceState.ready)
            return
        if desired is DesiredState.disabled:
            await self.lifecycle.stop(svc, ServiceState.disabled)
        elif desired is DesiredState.scaled_to_zero:
            if fresh or old is None or old.desired_state is not DesiredState.scaled_to_zero:
                await self.lifecycle.stop(svc, ServiceState.scaled_to_zero)
        elif svc.instance is None:
            await self.lifecycle.start(svc)
        elif old is not None and svc.backend.update_needed(old, svc.spec):
            await self.lifecycle.replace(svc, old)
        else:
            self.lifecycle.set_state(svc, svc.status.state)

    # ---------------------------------------------------------------- operations
    def views(self) -> list[ServiceView]:
        if self.refusing is not None:
            raise Unavailable(self.refusing)
        return [self.view(svc) for _, svc in sorted(self.services.items()) if not svc.deleted]

    def get(self, name: str) -> ServiceView:
        return self.view(self.service(name))

    async def create(self, spec: ServiceSpec) -> Operation:
        return (await self.create_or_update(spec, only_create=True))[0]

    async def create_or_update(self, spec: ServiceSpec, only_create: bool = False) -> tuple[Operation, bool]:
        """Validate, make the spec durable, then apply; the operation fails (and the old version
        keeps running) if the new one cannot start."""
        if self.refusing is not None:
            raise Unavailable(self.refusing)
        refusal = self.unrestored.get(spec.name) or await self.store.refusal(spec.name)
        if refusal is not None:
            raise Conflict(refusal)
        existing = self.services.get(spec.name)
        if only_create and existing is not None and not existing.deleted:
            raise Conflict(f"a service named {spec.name!r} exists; use PUT or PATCH to change it")
        self.validate(spec)
        url_errors = await self.check_url(spec) + [e for check in self.spec_checks for e in check(spec)]
        if url_errors:
            raise SpecInvalid(f"service {spec.name!r} cannot run here", url_errors)
        specs = {n: s.spec for n, s in self.services.items()} | {spec.name: spec}
        check_cycles(specs)
        backend = self._backend_for(spec)
        svc = self.services.get(spec.name)
        if svc is not None and svc.deleted:
            raise Conflict(f"{spec.name!r} is being deleted; create it again once it is gone")
        if spec.name in self._creating:
            raise Conflict(f"a service named {spec.name!r} is being created by another request")
        if svc is None:
            status = ServiceStatus(url=self.url_of(spec.name), backend=backend.name, generation=1,
                                   state=ServiceState.pending, changed_at=self.clock.now())
            for fill in self.status_fillers:
                fill(spec, status)
            self._creating.add(spec.name)
            try:  # durable before it exists (StorageFailed: it does not)
                await self.store.save(spec, status)
            finally:
                self._creating.discard(spec.name)
            svc = ManagedService(spec=spec, status=status, backend=backend)
            self.services[spec.name] = svc
            self.lifecycle.set_state(svc, ServiceState.pending)
            return self.operation(svc, self.converge(svc)), True
        if spec != svc.spec:  # durable before it is in force (StorageFailed: the old spec stays)
            await self.store.save(spec, svc.status.model_copy(update={"generation": svc.status.generation + 1}))
            self._saved_ahead[spec.name] = spec

        async def update() -> None:
            if self._saved_ahead.get(spec.name) is spec:
                del self._saved_ahead[spec.name]
            old = svc.spec
            if spec == old:
                return
            svc.spec = spec
            svc.status.generation += 1
            svc.status.changed_at = self.clock.now()
            for fill in self.status_fillers:
                fill(spec, svc.status)
            svc.failures, svc.retry_at = 0, 0.0  # a new spec gets a fresh start
            if backend is not svc.backend:
                await self.lifecycle.stop(svc, ServiceState.pending, "moving to another backend")
                svc.backend = backend
                svc.status.backend = backend.name
            await self.converge(svc, old=old)

        return self.operation(svc, update()), False

    async def patch(self, name: str, changes: dict[str, Any]) -> Operation:
        svc = self.service(name)
        if "name" in changes and changes["name"] != name:
            raise SpecInvalid("invalid patch", [FieldError("name", "cannot rename a service")])
        merged = merge_patch(svc.spec.model_dump(mode="json"), changes)
        return (await self.create_or_update(self.parse(merged)))[0]

    async def delete(self, name: str) -> None:
        svc = self.service(name)
        dependents = sorted(n for n, s in self.services.items() if name in s.spec.depends_on and not s.deleted)
        if dependents:
            raise Conflict(f"{name!r} is needed by {', '.join(dependents)}; delete or change them first")
        svc.deleted = True  # from now on requests and operations find no such service
        try:
            await self.store.delete(name)  # first: a delete that cannot be made durable changes nothing
        except StorageFailed:
            svc.deleted = False
            raise
        self.lifecycle.settle(svc, Unavailable(f"{name} was deleted"))
        try:
            async with svc.lock:  # after the operation under way, if any
                await self.lifecycle.stop(svc, ServiceState.stopping)
                self.services.pop(name, None)
                self._saved_ahead.pop(name, None)
        except BaseException:
            svc.deleted = False  # still there, and a DELETE may be tried again
            raise
        await svc.backend.delete(name)
        self.events.publish(Event("deleted", name))

    async def restart(self, name: str) -> Operation:
        svc = self.service(name)
        if svc.spec.url is not None:
            raise Conflict(f"{name!r} is an external service; there is nothing to restart")
        if svc.spec.desired_state is DesiredState.disabled:
            raise Conflict(f"{name!r} is disabled; enable it first")

        async def restart() -> None:
            svc.failures, svc.retry_at = 0, 0.0
            instance = svc.instance
            if instance is not None and svc.status.state is ServiceState.ready and \
                    svc.backend.update_strategy(svc.spec, svc.spec) is UpdateStrategy.rolling:
                svc.status.restarts += 1
                await self.lifecycle.restart_in_place(svc, instance)  # the old replicas serve meanwhile
                return
            await self.lifecycle.stop(svc, ServiceState.pending, "restarting")
            svc.status.restarts += 1
            await self.lifecycle.start(svc)

        return self.operation(svc, restart())

    async def scale(self, name: str, replicas: int) -> Operation:
        svc = self.service(name)
        if replicas < 0:
            raise SpecInvalid("invalid scale", [FieldError("replicas", "must be 0 or more")])
        if replicas == 0 and svc.spec.desired_state is DesiredState.scaled_to_zero:
            # already meant to rest at zero, but a request woke it: stop it again
            return self.operation(svc, self.lifecycle.stop(svc, ServiceState.scaled_to_zero, "scaled to zero"))
        if replicas == 0:
            changes: dict[str, Any] = {"desired_state": DesiredState.scaled_to_zero.value}
        else:
            changes = {"desired_state": DesiredState.ready.value, "replicas": replicas}
        operation = await self.patch(name, changes)
        if replicas > 0 and svc.instance is None:  # scaling up an already-ready spec after idling
            await operation
            return await self.wake(name)
        return operation

    async def set_enabled(self, name: str, enabled: bool) -> Operation:
        state = DesiredState.ready if enabled else DesiredState.disabled
        return await self.patch(name, {"desired_state": state.value})

    async def wake(self, name: str) -> Operation:
        """A person's wake: a failed service gets a fresh start (requests wait for its backoff)."""
        svc = self.service(name)
        if svc.spec.url is not None:  # it tried to start one (and the local backend asserted)
            raise Conflict(f"{name!r} is an external service; there is nothing to wake")
        if svc.status.state is ServiceState.failed and svc.ready is None:
            svc.failures, svc.retry_at = 0, 0.0

        async def wait() -> ServiceView:  # a failed start settles it too: the view says so (not a 503)
            with contextlib.suppress(StartFailed, Unavailable):
                await self.ensure_ready(name, self.lifecycle.settings.readiness_timeout * 2)
            return self.view(svc)

        return self.spawn(wait())

    async def scale_to_zero(self, name: str, reason: str) -> None:
        """Idle scale-down: stop the instance but keep the spec's desired state."""
        svc = self.services.get(name)
        if svc is None:
            return  # deleted since the idle loop saw it
        async with svc.lock:
            if svc.instance is not None and svc.status.state is ServiceState.ready and not svc.deleted:
                await self.lifecycle.stop(svc, ServiceState.scaled_to_zero, reason)

    async def ensure_ready(self, name: str, timeout: float) -> Endpoint:
        """The endpoint of a ready instance, starting one if needed; exactly one start for any
        number of concurrent callers."""
        svc = self.service(name)
        if svc.spec.desired_state is DesiredState.disabled:
            raise Unavailable(f"{name} is disabled; enable it to use it")
        deadline = time.monotonic() + timeout
        while True:
            if svc.deleted:
                raise NotFound(f"no service named {name!r}")
            if svc.status.state is ServiceState.ready and svc.instance is not None:
                return svc.instance.endpoint  # no await since the check: the caller gets a live one
            if svc.ready is None:
                if svc.status.state is ServiceState.failed:
                    self.lifecycle.refuse_while_failed(svc)
                svc.ready = asyncio.get_running_loop().create_future()
                svc.wake_requested_at = time.monotonic()
                self.operation(svc, self.lifecycle.start(svc))
            ready, left = svc.ready, deadline - time.monotonic()
            if left <= 0:
                raise StillStarting(f"{name} is still starting after {timeout:g}s")
            # asyncio.wait: one callback on the shared future, which a timeout leaves alone (no
            # shield, no extra task hops between "ready" and the held request going out)
            done, _ = await asyncio.wait((ready,), timeout=left)
            if not done:
                raise StillStarting(f"{name} is still starting after {timeout:g}s")
            ready.result()  # a failed start raises its error here

    def note(self, svc: ManagedService, **fields: Any) -> None:
        """The idle and lifetime loops' readings of a service; published (SSE, panel) if they changed."""
        if any(getattr(svc.status, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(svc.status, key, value)
            self._publish(svc)

    def external_endpoint(self, name: str) -> Endpoint | None:
        return None if (url := self.service(name).spec.url) is None else endpoint_of_url(url)

    async def wait_settled(self, operation: Operation, timeout: float) -> ServiceView | None:
        """The operation's view if it ends in time, else None (it goes on)."""
        with contextlib.suppress(asyncio.TimeoutError):
            return await asyncio.wait_for(asyncio.shield(operation), timeout)
        return None
