"""The backend's view of the cluster: four reflectors (Deployments, ReplicaSets, Pods, EndpointSlices)
with this server's labels, and waits on what they hold.

Every status question (is the wake done? did the rollout fail? is the pod crash-looping?) is a
pure function of these caches (``status.py``); a waiter re-reads it after each change any of the
four watches brings, so nothing polls the apiserver.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import TypeVar

from kubernetes_asyncio import client as k8s

from .reflector import DEPLOYMENTS, ENDPOINT_SLICES, JSON, PODS, EventType, Kind, Reflector
from .status import ClusterStatus, cluster_status

T = TypeVar("T")

REPLICA_SETS = Kind("ReplicaSet", k8s.AppsV1Api, "list_namespaced_replica_set")


class ClusterCache:
    """What the watches last saw of this server's objects in one namespace."""

    def __init__(self, api: k8s.ApiClient, namespace: str, selector: str, *, watch_timeout: int = 60,
                 log: logging.Logger | None = None) -> None:
        def make(kind: Kind) -> Reflector:
            return Reflector(api, kind, namespace, selector, watch_timeout=watch_timeout, log=log)

        self.deployments, self.replica_sets = make(DEPLOYMENTS), make(REPLICA_SETS)
        self.pods, self.slices = make(PODS), make(ENDPOINT_SLICES)
        self.reflectors = (self.deployments, self.replica_sets, self.pods, self.slices)
        self._next: asyncio.Future[None] | None = None  # resolved by the next change
        self._version = 0
        for reflector in self.reflectors:
            reflector.on_change(self._note)

    def _note(self, kind: EventType, obj: JSON) -> None:
        self.poke()

    def poke(self) -> None:
        """Have every waiter look again (something besides the watches changed: an instance stopped)."""
        self._version += 1
        future, self._next = self._next, None
        if future is not None and not future.done():
            future.set_result(None)

    async def _change(self) -> None:
        """Return after the next change (shared by every waiter; shielded: one waiter's timeout
        must not cancel the others' wait)."""
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._next)

    async def start(self, timeout: float) -> None:
        """Begin watching; returns once every first list is in (ReflectorError: RBAC, namespace)."""
        for reflector in self.reflectors:
            reflector.start()
        await asyncio.wait_for(asyncio.gather(*(r.first_load for r in self.reflectors)), timeout)

    async def stop(self) -> None:
        for reflector in self.reflectors:
            await reflector.stop()

    # ------------------------------------------------------------------------- reading
    def deployment(self, name: str) -> JSON | None:
        return self.deployments.cache.get(name)

    def status(self, name: str) -> ClusterStatus:
        """The service whose Deployment and Service are called ``name``, as the watches last saw it."""
        return cluster_status(self.deployments.cache.get(name), self.replica_sets.cache.values(),
                              self.pods.cache.values(), self.slices.cache.values(), name)

    def seen(self, name: str, resource_version: str | None) -> bool:
        """The Deployment's cached copy is at least as new as ``resource_version`` (a write's answer):
        until then, its status is that of before the write."""
        current = self.deployments.cache.get(name)
        if resource_version is None:
            return True
        if current is None:
            return False
        try:
            return int(current["metadata"]["resourceVersion"]) >= int(resource_version)
        except (KeyError, ValueError):  # opaque versions (not etcd's): wait for any change instead
            return current["metadata"].get("resourceVersion") == resource_version

    def pods_of(self, name: str) -> Mapping[str, JSON]:
        """The pods of the service whose objects are called ``name`` (by the ReplicaSets it owns)."""
        deployment = self.deployments.cache.get(name)
        if deployment is None:
            return {}
        uid = deployment["metadata"].get("uid")
        sets = {rs["metadata"]["name"] for rs in self.replica_sets.cache.values()
                if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or ())}
        return {pod_name: pod for pod_name, pod in self.pods.cache.items()
                if any(ref.get("name") in sets for ref in pod["metadata"].get("ownerReferences") or ())}

    # ------------------------------------------------------------------------- waiting
    async def wait_until(self, predicate: Callable[[], T | None], timeout: float | None) -> T:
        """The first truthy ``predicate()``, checked now and after each change; TimeoutError after ``timeout``."""
        async def run() -> T:
            while True:
                found = predicate()
                if found:
                    return found
                await self._change()

        return await asyncio.wait_for(run(), timeout)

    async def changes(self) -> AsyncIterator[None]:
        """Once now, then once after each batch of changes, until the consumer stops."""
        seen = -1
        while True:
            if seen != self._version:
                seen = self._version
                yield None
                continue
            await self._change()
