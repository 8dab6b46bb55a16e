"""One service on the cluster: its Deployment + Service, seen through the watches' cache.

Everything an :class:`~jupyter_svc.backends.base.Instance` answers comes from the cache: ready once
the latest version's pod is a ready endpoint of the Service (not when an HTTP probe from the server
passes: the server may not reach the pod), failed with the kubelet's or the scheduler's reason,
gone once the Deployment is. Writes (scale, apply, rollout restart) go through ``cluster.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_svc.backends.base import Endpoint, Health, Instance, LaunchContext, NotReady, ReadyCheck
from jupyter_svc.model.errors import SvcError
from jupyter_svc.model.spec import ServiceSpec

from .cache import ClusterCache
from .cluster import RESTARTED_AT, Cluster, ClusterError
from .objects import build_deployment, build_service
from .pod import JSON
from .resolver import EndpointQuery, Resolver, ResolveRefused, resolve
from .settings import MAIN_CONTAINER, KubernetesSettings
from .status import ClusterStatus, ReadyEndpoint

#: Log lines quoted with a failure (CrashLoopBackOff, OOMKilled).
LOG_LINES = 10
#: Seconds a log read for a failure message may take (the kubelet may be gone with its node).
LOG_TIMEOUT = 3.0


@dataclass
class Runtime:
    """What every instance of one backend shares: the writes, the watches, the names, the seam."""

    cluster: Cluster
    cache: ClusterCache
    settings: KubernetesSettings
    resolver: Resolver
    loopback_only: bool
    log: logging.Logger
    #: the instances' own tasks (following endpoints), cancelled when the backend closes
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


async def apply_spec(runtime: Runtime, spec: ServiceSpec, context: LaunchContext,
                     replicas: int | None = None, dry_run: bool = False) -> tuple[JSON, JSON]:
    """Server-side apply of ``spec``'s Deployment (``replicas`` of it: the spec's by default) and
    then its Service, owned by the Deployment; the stored objects."""
    deployment = build_deployment(spec, runtime.settings, context.base_url)
    deployment["spec"]["replicas"] = spec.replicas if replicas is None else replicas
    applied = await runtime.cluster.apply(deployment, dry_run=dry_run)
    uid = applied["metadata"].get("uid") or None
    service = await runtime.cluster.apply(build_service(spec, runtime.settings, uid), dry_run=dry_run)
    return applied, service


class KubernetesInstance(Instance):
    """A service's Deployment with replicas > 0, and its Service."""

    def __init__(self, runtime: Runtime, spec: ServiceSpec, context: LaunchContext, deployment: JSON,
                 service: JSON) -> None:
        self.runtime, self.spec, self.context = runtime, spec, context
        settings = runtime.settings
        self.name = settings.object_name(spec.name)
        self.endpoint = Endpoint(settings.service_host(spec.name), settings.service_port)
        self._written = deployment["metadata"].get("resourceVersion")  # the cache must see this first
        self._uid = deployment["metadata"].get("uid", "")
        self._cluster_ip = (service.get("spec") or {}).get("clusterIP", "")
        self._serving: ReadyEndpoint | None = None
        self._stopped = False
        self._follower: asyncio.Task[None] | None = None
        self._rolling = False  # a rollout is under way: its outcome, not health reports, says how it went

    def __repr__(self) -> str:
        return f"<KubernetesInstance {self.runtime.settings.namespace}/{self.name}>"

    # ------------------------------------------------------------------------- reading
    def status(self) -> ClusterStatus:
        return self.runtime.cache.status(self.name)

    @property
    def ready_replicas(self) -> int:  # type: ignore[override]  # read from the cache, never set
        """The latest version's pods that are ready endpoints of the Service."""
        return len({endpoint.pod for endpoint in self.status().endpoints})

    def _gone(self) -> bool:
        current = self.runtime.cache.deployment(self.name)
        return current is None or current["metadata"].get("uid") != self._uid

    def _exit_code(self) -> int | None:
        if self._stopped:
            return 0
        if self.runtime.cache.seen(self.name, self._written) and self._gone():
            return 1  # deleted behind the server's back
        return None

    async def poll(self) -> int | None:
        return self._exit_code()

    async def wait(self) -> int:
        await self.runtime.cache.wait_until(lambda: self._exit_code() is not None, None)
        return self._exit_code() or 0

    def state(self) -> dict[str, Any]:
        return {"namespace": self.runtime.settings.namespace, "deployment": self.name, "uid": self._uid}

    # ------------------------------------------------------------------------- ready
    def _settled(self) -> ClusterStatus | None:
        if self._stopped:
            raise NotReady(f"{self.spec.name} was stopped before it was ready")
        if not self.runtime.cache.seen(self.name, self._written):
            return None
        if self._gone():
            raise NotReady(f"the Deployment {self.name} was deleted")
        status = self.status()
        return status if status.phase in ("ready", "failed") else None

    async def wait_ready(self, check: ReadyCheck) -> None:
        """Until the latest version's pod is a ready endpoint of the Service (the EndpointSlice says
        so); NotReady with the pod's reason when it fails, or with the last progress after the timeout."""
        try:
            status = await self.runtime.cache.wait_until(self._settled, check.timeout)
        except asyncio.TimeoutError:
            raise NotReady(f"{self.spec.name} not ready after {check.timeout:g}s: {self.status().message}") from None
        if status.phase == "failed":
            lines = await self._log_lines()
            raise NotReady(status.message
                           + ("\nlast log lines:\n" + "\n".join(lines) if lines else ""))
        await self._resolve(status.endpoints)
        if self._follower is None:
            self._follower = asyncio.create_task(self.follow_endpoint(), name=f"{self!r}: endpoint")
            self.runtime.tasks.add(self._follower)
            self._follower.add_done_callback(self.runtime.tasks.discard)

    async def _resolve(self, endpoints: tuple[ReadyEndpoint, ...]) -> None:
        """Point :attr:`endpoint` at a ready endpoint, through the resolver seam (refusals: NotReady)."""
        if not endpoints:
            return
        chosen = next((e for e in endpoints if e == self._serving), endpoints[0])
        settings = self.runtime.settings
        query = EndpointQuery(service=self.spec.name, object_name=self.name, namespace=settings.namespace,
                              address=chosen.address, port=chosen.port, pod=chosen.pod,
                              dns_name=settings.service_host(self.spec.name), cluster_ip=self._cluster_ip,
                              service_port=settings.service_port)
        try:
            host, port = await resolve(self.runtime.resolver, query, self.runtime.loopback_only)
        except ResolveRefused as exc:
            raise NotReady(exc.message) from None
        self.endpoint, self._serving = Endpoint(host, port), chosen

    async def follow_endpoint(self) -> None:  # task started by the first wait_ready
        """While it runs, when the pod behind a resolved endpoint stops being ready (replaced by its
        ReplicaSet), move to another ready one (a resolver that maps pods, not the Service)."""
        async for _ in self.runtime.cache.changes():
            if self._stopped or self._gone():
                return
            endpoints = self.status().endpoints
            if self._serving is not None and endpoints and self._serving not in endpoints:
                with contextlib.suppress(NotReady):
                    await self._resolve(endpoints)

    # ------------------------------------------------------------------------- health
    async def health(self) -> AsyncIterator[Health]:
        """A report on each change between serving and not (CrashLoopBackOff, OOMKilled, ...), until stopped or gone."""
        last_ok = True
        async for _ in self.runtime.cache.changes():
            if self._exit_code() is not None:
                return
            if self._rolling:
                continue
            status = self.status()
            if status.phase == "failed" and last_ok:
                last_ok = False
                problem = status.problems[0] if status.problems else None
                yield Health(False, problem.reason if problem else "Failed", status.message,
                             tuple(await self._log_lines()), status.restarts)
            elif status.phase == "ready" and not last_ok:
                last_ok = True
                with contextlib.suppress(NotReady):
                    await self._resolve(status.endpoints)
                yield Health(True, restarts=status.restarts)

    async def _log_lines(self) -> list[str]:
        """The failing (else the newest) pod's last lines, if the kubelet answers in time."""
        status = self.status()
        problem = status.problems[0] if status.problems else None
        pods = self.runtime.cache.pods_of(self.name)
        pod = problem.pod if problem else max(pods, key=lambda n: pods[n]["metadata"].get("creationTimestamp", ""),
                                              default=None)
        if pod is None:
            return []
        container = problem.container if problem and problem.container else MAIN_CONTAINER
        try:
            return await asyncio.wait_for(self.runtime.cluster.log_lines(pod, container, LOG_LINES), LOG_TIMEOUT)
        except (ClusterError, asyncio.TimeoutError, OSError) as exc:
            self.runtime.log.debug("no logs of %s/%s: %s", pod, container, exc)
            return []

    # ------------------------------------------------------------------------- changes
    async def stop(self, grace: float) -> int:
        """Zero replicas (the Deployment and the Service stay: a wake scales it up again)."""
        self._stopped = True
        self.runtime.cache.poke()  # waiters see it now, whatever the watches bring
        if self._follower is not None:
            self._follower.cancel()
        try:
            await self.runtime.cluster.scale(self.name, 0)
        except ClusterError as exc:  # gone already (404), or the apiserver is down: its pods may still run
            if exc.status != 404:
                self.runtime.log.warning("could not scale %s to zero: %s", self.name, exc)
        return 0

    async def roll_out(self, spec: ServiceSpec, context: LaunchContext, check: ReadyCheck) -> None:
        """The Deployment's rollout to ``spec`` (a rollout restart when nothing changed): the old
        ReplicaSet serves until the new one is ready; on failure the previous spec is applied again
        (its ReplicaSet takes over) and SvcError says why."""
        self._rolling = True
        try:
            await self._roll_out(spec, context, check)
        finally:
            self._rolling = False
            self.runtime.cache.poke()  # health looks again, at the version that now runs

    async def _roll_out(self, spec: ServiceSpec, context: LaunchContext, check: ReadyCheck) -> None:
        old_spec, old_context = self.spec, self.context
        restart = spec == old_spec and context == old_context
        current = self.runtime.cache.deployment(self.name) or {}
        template = ((current.get("spec") or {}).get("template") or {}).get("metadata") or {}
        restarted_at = (template.get("annotations") or {}).get(RESTARTED_AT)  # what a failed restart restores
        try:
            if restart:
                deployment = await self.runtime.cluster.rollout_restart(self.name)
            else:
                deployment, service = await apply_spec(self.runtime, spec, context)
                self._cluster_ip = (service.get("spec") or {}).get("clusterIP", self._cluster_ip)
        except ClusterError as exc:
            raise SvcError(f"the cluster refused the update of {spec.name}: {exc}") from None
        self._written = deployment["metadata"].get("resourceVersion")
        self.spec, self.context = spec, context
        try:
            await self.wait_ready(check)
            return
        except NotReady as exc:
            failure = exc.message
        self.runtime.log.warning("rollout of %s failed, rolling back: %s", spec.name, failure)
        self.spec, self.context = old_spec, old_context
        if restart:
            deployment = await self.runtime.cluster.rollout_restart(self.name, restarted_at)
        else:
            deployment, _ = await apply_spec(self.runtime, old_spec, old_context)
        self._written = deployment["metadata"].get("resourceVersion")
        try:
            await self.wait_ready(check)
            restored = "the previous version was restored"
        except NotReady as exc:
            restored = f"rolling back to the previous version: {exc.message}"
        raise SvcError(f"rollout of {spec.name} failed, {restored}: {failure}")
