"""One service's running life: start with readiness, supervise with restart policy, stop.

The manager owns the decisions (which operation, under which lock); this module owns the
mechanics, so that `manager.py` reads as a list of operations.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from jupyter_svc.backends.base import (
    Backend,
    Endpoint,
    Health,
    Instance,
    LaunchContext,
    NotReady,
    ReadyCheck,
    UpdateStrategy,
)
from jupyter_svc.model.errors import ServiceFailed, SvcError, Unavailable
from jupyter_svc.model.spec import RestartPolicy, ServiceSpec
from jupyter_svc.model.status import ServiceState, ServiceStatus
from jupyter_svc.upstream.pool import UpstreamPool

from .readiness import probe_once

log = logging.getLogger(__name__)

#: Lines of the service's log quoted in a failure message.
LOG_LINES_IN_ERRORS = 10
#: Seconds after a start before an advisory inspection of the instance (``Instance.inspect_ready``).
INSPECT_AFTER = 0.3


def wake_steps(requested: float, marks: dict[str, float]) -> dict[str, float]:
    """Milliseconds of each step of a wake, from the monotonic times it passed them."""
    steps, last = {}, requested
    for name, mark in (("queued", "locked"), ("spawn", "spawned"), ("ready", "ready"), ("release", "released")):
        if mark in marks:
            steps[name], last = round((marks[mark] - last) * 1000, 3), marks[mark]
    return steps


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class LifecycleSettings:
    readiness_timeout: float = 60.0
    stop_grace: float = 5.0
    restart_backoff_initial: float = 0.5
    restart_backoff_max: float = 30.0
    max_restarts: int = 5
    restart_reset_after: float = 60.0


@dataclass
class ManagedService:
    """Everything the server holds for one service; only the manager mutates it."""

    spec: ServiceSpec
    status: ServiceStatus
    backend: Backend
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    instance: Instance | None = None
    ready: asyncio.Future[None] | None = None  # pending while a start is under way
    epoch: int = 0  # bumped by every deliberate stop, so a supervisor knows it is stale
    failures: int = 0  # consecutive exits without a long enough healthy run
    retry_at: float = 0.0  # monotonic time before which a request may not start it again (failed)
    ready_since: float = 0.0
    wake_requested_at: float | None = None
    deleted: bool = False  # set as its deletion starts: no new requests, operations or events

    @property
    def name(self) -> str:
        return self.spec.name


class StartFailed(SvcError):
    status_code = 503


class Lifecycle:
    def __init__(self, settings: LifecycleSettings, context_for: Callable[[ManagedService], LaunchContext],
                 publish: Callable[[ManagedService], None],
                 spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
                 upstream: UpstreamPool) -> None:
        self.settings = settings
        self.upstream = upstream  # readiness probes go through the proxy's pool (see readiness.py)
        self.context_for = context_for
        self._publish = publish
        self._spawn = spawn
        #: set by the proxy's activity tracker: lets in-flight requests finish before a stop
        self.drain: Callable[[str, float], Awaitable[None]] | None = None

    def set_state(self, svc: ManagedService, state: ServiceState, message: str = "") -> None:
        if state is ServiceState.ready and not message and svc.instance is not None:
            message = "; ".join(svc.instance.warnings)  # e.g. reachable without Jupyter's login
        svc.status.state = state
        svc.status.message = message
        if state is not ServiceState.ready:
            svc.status.idle_deadline = None  # only a ready service goes idle
        svc.status.replicas_ready = 1 if state is ServiceState.ready and svc.instance else 0
        svc.status.endpoint = svc.instance.endpoint.base if svc.instance else ""
        self._publish(svc)

    async def _inspect_later(self, svc: ManagedService, instance: Instance) -> None:
        """The instance's warnings (e.g. reachable without Jupyter's login) into its ready status,
        once the requests held through the wake have been answered: the local backend's check reads
        /proc for tens of ms in a thread, and competing for the GIL it made those answers wait."""
        await asyncio.sleep(INSPECT_AFTER)
        with contextlib.suppress(SvcError):
            instance.warnings = tuple(await instance.inspect_ready())  # read when it turns ready
            if instance.warnings and svc.instance is instance and svc.status.state is ServiceState.ready \
                    and not svc.status.message:
                self.set_state(svc, ServiceState.ready)

    def backoff(self, failures: int) -> float:
        """Pause after ``failures`` quick failures in a row: the restart policy's and the wakes'."""
        return min(self.settings.restart_backoff_initial * 2 ** max(failures - 1, 0), self.settings.restart_backoff_max)

    def note_failure(self, svc: ManagedService) -> None:
        """One more failure in a row: requests may start it again only after the backoff."""
        svc.failures += 1
        svc.retry_at = time.monotonic() + self.backoff(svc.failures)

    async def failure_message(self, svc: ManagedService, reason: str, tail: list[str] | None = None) -> str:
        if tail is None:
            tail = await svc.backend.log_tail(svc.name, LOG_LINES_IN_ERRORS)
        return reason + ("\nlast log lines:\n" + "\n".join(tail) if tail else "")

    def _probe(self, endpoint: Endpoint, path: str) -> Awaitable[int | None]:
        return probe_once(endpoint, path, self.upstream)

    def ready_check(self, svc: ManagedService, spec: ServiceSpec) -> ReadyCheck:
        """What an instance of ``spec`` is told to become ready by (its own ``wait_ready``)."""
        prefix = "" if spec.rewrite_path else self.context_for(svc).base_url.rstrip("/")
        return ReadyCheck(spec.readiness, spec.readiness.timeout or self.settings.readiness_timeout,
                          self._probe, prefix)

    def settle(self, svc: ManagedService, error: BaseException | None) -> None:
        future, svc.ready = svc.ready, None
        if future is not None and not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
                future.exception()  # retrieved: no "never retrieved" noise when nobody waits

    async def launch(self, svc: ManagedService, spec: ServiceSpec, marks: dict[str, float] | None = None) -> Instance:
        """A ready instance of ``spec``, or StartFailed with the log tail; touches no status.
        ``marks``: monotonic times at which it was spawned and found ready (a wake's steps)."""
        context = self.context_for(svc)
        check = self.ready_check(svc, spec)
        backend = svc.backend
        marks = {} if marks is None else marks
        for attempt in range(max(backend.start_attempts, 1)):
            instance = await backend.start(spec, context)
            marks["spawned"] = time.monotonic()
            try:
                await instance.wait_ready(check)
                marks["ready"] = time.monotonic()
                if instance.inspection_gates_readiness:
                    instance.warnings = tuple(await instance.inspect_ready())
                else:  # advisory: off the wake path, once the held requests have gone out
                    self._spawn(self._inspect_later(svc, instance))
                return instance
            except NotReady as exc:
                silent = await instance.poll() is None and "no answer" in str(exc)  # it runs, answers nothing
                await instance.stop(self.settings.stop_grace)
                if instance.retryable and attempt + 1 < backend.start_attempts:
                    continue
                where = instance.endpoint
                hint = "" if not silent else (
                    f": the app must listen on {{unix_socket}} ({where.unix_socket} this time)" if where.unix_socket
                    else f": the app must listen on {{port}} (port {where.port} this time) at {where.host}")
                raise StartFailed(await self.failure_message(svc, f"{svc.name} failed to start: {exc}{hint}")) \
                    from None
            except BaseException:
                await instance.stop(self.settings.stop_grace)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def start(self, svc: ManagedService) -> None:
        """Bring ``svc`` to ready (caller holds the lock); on failure the state says why."""
        if svc.instance is not None and svc.status.state is ServiceState.ready:
            self.settle(svc, None)
            return
        if svc.ready is None:
            svc.ready = asyncio.get_running_loop().create_future()
        marks = {"locked": time.monotonic()}
        cold = svc.wake_requested_at is not None or svc.status.state in (
            ServiceState.scaled_to_zero, ServiceState.stopping, ServiceState.waking)
        self.set_state(svc, ServiceState.waking if cold else ServiceState.starting)
        try:
            instance = await self.launch(svc, svc.spec, marks)
        except SvcError as exc:
            svc.instance = None
            self.note_failure(svc)
            self.set_state(svc, ServiceState.failed, exc.message)
            self.settle(svc, StartFailed(exc.message))
            return
        except asyncio.CancelledError:
            self.settle(svc, Unavailable(f"{svc.name}: start was cancelled"))
            raise
        self.serve_with(svc, instance)
        requested, svc.wake_requested_at = svc.wake_requested_at, None
        self.settle(svc, None)  # first, so held requests go out before the publishing work queued below
        if cold and requested is not None:
            marks["released"] = time.monotonic()
            svc.status.cold_starts += 1
            svc.status.last_cold_start_ms = round((marks["released"] - requested) * 1000, 2)
            svc.status.last_cold_start_steps = wake_steps(requested, marks)
        self.set_state(svc, ServiceState.ready)

    def serve_with(self, svc: ManagedService, instance: Instance, started_at: datetime | None = None) -> None:
        """Make ``instance`` the one that serves, and watch it (its own health reports when its
        backend supervises itself, else its exit, with the restart policy)."""
        svc.instance = instance
        svc.ready_since = time.monotonic()
        svc.status.started_at = started_at or now()
        svc.status.last_activity = svc.status.started_at
        if svc.backend.supervises_itself:
            self._spawn(self.follow_health(svc, instance, svc.epoch))
        self._spawn(self.supervise(svc, instance, svc.epoch))

    async def stop(self, svc: ManagedService, final: ServiceState, message: str = "") -> None:
        """Stop whatever runs (caller holds the lock) and rest in ``final``."""
        svc.epoch += 1
        instance, svc.instance = svc.instance, None
        if instance is not None:
            if time.monotonic() - svc.ready_since >= self.settings.restart_reset_after:
                svc.failures = 0  # a healthy run: old failures no longer count
            self.set_state(svc, ServiceState.stopping, message)
            if self.drain is not None:
                await self.drain(svc.name, self.settings.stop_grace * 2)
            svc.status.last_exit_code = await instance.stop(self.settings.stop_grace)
        if final is ServiceState.disabled:  # held requests must not wait for what will not start
            self.settle(svc, Unavailable(f"{svc.name} is disabled"))
        self.set_state(svc, final, message)

    async def follow_health(self, svc: ManagedService, instance: Instance, epoch: int) -> None:
        """A self-supervising instance's reports into the same states: not ok -> ``failed`` with
        the reason, message and log lines (requests get 503 with it at once); ok -> ``ready``."""
        async for health in instance.health():
            message = "" if health.ok else await self._health_message(svc, health)
            async with svc.lock:  # after an operation under way (a rollout reports as it goes)
                if svc.instance is not instance or svc.epoch != epoch or svc.deleted:
                    return  # stopped or replaced
                if health.restarts is not None:
                    svc.status.restarts = health.restarts
                if health.ok:
                    if svc.status.state is ServiceState.failed:
                        svc.failures = 0
                        self.set_state(svc, ServiceState.ready)
                elif svc.status.state in (ServiceState.ready, ServiceState.failed):
                    svc.failures += 1
                    self.set_state(svc, ServiceState.failed, message)

    async def _health_message(self, svc: ManagedService, health: Health) -> str:
        reason = f"{health.reason}: {health.message}" if health.reason else health.message
        tail = list(health.log_lines) or None
        return await self.failure_message(svc, f"{svc.name} is failing ({reason}); its backend restarts it", tail)

    async def supervise(self, svc: ManagedService, instance: Instance, epoch: int) -> None:
        code = await instance.wait()
        async with svc.lock:
            if svc.instance is not instance or svc.epoch != epoch or svc.deleted:
                return  # stopped on purpose, or replaced
            svc.instance = None
            svc.status.last_exit_code = code
            if svc.backend.supervises_itself:  # gone for good, not one crash: its backend restarts those
                self.note_failure(svc)
                self.set_state(svc, ServiceState.failed, await self.failure_message(
                    svc, f"{svc.name} is gone (exit code {code}); restart or update it to start it again"))
                return
            healthy_for = time.monotonic() - svc.ready_since
            if healthy_for >= self.settings.restart_reset_after:
                svc.failures = 0
            policy = svc.spec.restart_policy
            if policy is RestartPolicy.never or (policy is RestartPolicy.on_failure and code == 0):
                state = ServiceState.scaled_to_zero if code == 0 else ServiceState.failed
                if code != 0:
                    self.note_failure(svc)
                self.set_state(svc, state, await self.failure_message(
                    svc, f"exited with code {code} (restart_policy {policy.value}); not restarted"))
                return
            svc.failures += 1
            if svc.failures > self.settings.max_restarts:
                self.set_state(svc, ServiceState.failed, await self.failure_message(
                    svc, f"crash loop: exited {svc.failures} times in a row (last exit code {code}); "
                         "gave up restarting. Fix the command and update or restart the service"))
                return
            delay = self.backoff(svc.failures)
            svc.status.restarts += 1
            self.set_state(svc, ServiceState.starting, f"exited with code {code}; restarting in {delay:.2g}s")
            epoch = svc.epoch
        await asyncio.sleep(delay)
        async with svc.lock:
            if svc.epoch == epoch and svc.instance is None and not svc.deleted:
                await self.start(svc)

    async def replace(self, svc: ManagedService, old_spec: ServiceSpec) -> None:
        """Run the new spec in place of the old, as the backend's update strategy says; if it cannot
        start, the old one keeps serving (or is restored)."""
        strategy = svc.backend.update_strategy(old_spec, svc.spec)
        if strategy is UpdateStrategy.rolling and svc.instance is not None:
            await self._roll_out(svc, svc.instance, old_spec)
        elif strategy is UpdateStrategy.side_by_side and svc.instance is not None:
            await self._side_by_side(svc, old_spec)
        else:
            await self._stop_then_start(svc, old_spec)

    def _update_failed(self, svc: ManagedService, old_spec: ServiceSpec, exc: SvcError) -> StartFailed:
        new_spec, svc.spec = svc.spec, old_spec
        self.set_state(svc, ServiceState.ready, f"update failed, previous version still running: {exc}")
        return StartFailed(f"update of {new_spec.name} failed; the previous version is still running: {exc.message}")

    async def _roll_out(self, svc: ManagedService, instance: Instance, old_spec: ServiceSpec) -> None:
        svc.status.message = "rolling out the new version"
        self._publish(svc)
        try:
            await instance.roll_out(svc.spec, self.context_for(svc), self.ready_check(svc, svc.spec))
        except SvcError as exc:
            raise self._update_failed(svc, old_spec, exc) from exc
        self.set_state(svc, ServiceState.ready)  # its endpoint and state may have changed: published

    async def _side_by_side(self, svc: ManagedService, old_spec: ServiceSpec) -> None:
        svc.status.message = "starting the new version beside the current one"
        self._publish(svc)
        try:
            instance = await self.launch(svc, svc.spec)
        except SvcError as exc:
            raise self._update_failed(svc, old_spec, exc) from exc
        old, svc.instance = svc.instance, None
        svc.epoch += 1
        self.serve_with(svc, instance)
        self.set_state(svc, ServiceState.ready)
        if old is not None:
            with contextlib.suppress(Exception):
                await old.stop(self.settings.stop_grace)

    async def _stop_then_start(self, svc: ManagedService, old_spec: ServiceSpec) -> None:
        await self.stop(svc, ServiceState.pending, "restarting with the new version")
        await self.start(svc)
        if svc.status.state is not ServiceState.failed:
            return
        reason = svc.status.message
        svc.spec = old_spec
        await self.start(svc)
        svc.status.message = f"update failed, previous version restored: {reason}"
        self._publish(svc)
        raise StartFailed(f"update of {svc.name} failed; the previous version was restored: {reason}")

    def refuse_while_failed(self, svc: ManagedService) -> None:
        """A failed service answers at once with its failure: after max_restarts failures in a
        row until a person restarts, updates or wakes it; before that, until its backoff ends."""
        settings, reason = self.settings, svc.status.message
        if svc.instance is not None:  # it supervises itself: its backend, not a request, restarts it
            raise ServiceFailed(f"{svc.name} is failing and its backend is restarting it. {reason}",
                                retry_after=settings.restart_backoff_initial * 4)
        if svc.failures > settings.max_restarts:
            raise ServiceFailed(f"{svc.name} failed {svc.failures} times in a row and is not started by "
                                f"requests; restart or update it. {reason}", retry_after=settings.restart_backoff_max)
        wait = svc.retry_at - time.monotonic()
        if wait > 0:
            raise ServiceFailed(f"{svc.name} failed; a request may start it again in {wait:.1f}s. {reason}",
                                retry_after=wait)
