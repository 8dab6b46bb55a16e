"""One list + watch of one kind in one namespace, kept as an in-memory cache the backend answers from.

As KubeSpawner's reflector: the backend never asks the apiserver "what is the state now?" on a
request path; a reflector per kind (Deployments, Pods, EndpointSlices) lists once, then watches
from the list's resource version, and every reader looks at its cache. I/O is
``kubernetes_asyncio`` (aiohttp on the server's own event loop, as KubeSpawner does): no thread per
watch, nothing that blocks the loop, and a stop is a task cancellation. Objects stay the API's own
JSON (plain dicts, as ``objects.py`` builds them): no model classes are made from the watch.

After a disconnect (the server-side watch timeout, a dropped connection, an apiserver restart) the
watch resumes from the last resource version it saw (bookmarks keep it fresh); when the apiserver
answers 410 Gone (that version is compacted away) the reflector lists again and reports the
difference as ADDED / MODIFIED / DELETED events, so callbacks never miss a change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.watch import Watch

JSON = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]
#: A change callback: the event's type and the object (its last known state for DELETED).
Callback = Callable[[EventType, JSON], None]
T = TypeVar("T")

#: Answers that retrying cannot fix: wrong credentials, a missing RBAC rule, no such namespace.
_FATAL = frozenset({400, 401, 403, 404})
_GONE = 410
#: Objects per list page: a namespace with thousands of pods is listed in pieces.
PAGE = 500


@dataclass(frozen=True)
class Kind:
    """A kind the backend watches: its API class and the name of its namespaced list call."""

    name: str
    api: Callable[[k8s.ApiClient], Any]
    list_call: str


DEPLOYMENTS = Kind("Deployment", k8s.AppsV1Api, "list_namespaced_deployment")
PODS = Kind("Pod", k8s.CoreV1Api, "list_namespaced_pod")
ENDPOINT_SLICES = Kind("EndpointSlice", k8s.DiscoveryV1Api, "list_namespaced_endpoint_slice")


class ReflectorError(RuntimeError):
    """The first list failed in a way a retry cannot fix (``status``: the apiserver's answer)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Reflector:
    """List + watch of ``kind`` in ``namespace`` for objects matching ``label_selector``.

    ``cache`` maps each object's name to its latest JSON; ``first_load`` resolves once the first
    list is in the cache (or fails with :class:`ReflectorError`); ``on_change`` and ``wait_for``
    let the backend react to changes. ``stop()`` then ``start()`` resumes from the resource
    version reached, keeping the cache.
    """

    def __init__(self, api: k8s.ApiClient, kind: Kind, namespace: str, label_selector: str = "", *,
                 watch_timeout: int = 60, backoff_max: float = 10.0,
                 log: logging.Logger | None = None) -> None:
        self.kind, self.namespace, self.label_selector = kind, namespace, label_selector
        self.watch_timeout, self.backoff_max = watch_timeout, backoff_max
        self.log = log or logging.getLogger(__name__)
        self._list = getattr(kind.api(api), kind.list_call)
        self._cache: dict[str, JSON] = {}
        #: Where the next watch starts: the last list's or the last event's (or bookmark's) version.
        self.resource_version: str | None = None
        #: Full lists made (the first one and each relist after 410 Gone), for tests and metrics.
        self.lists = 0
        self.first_load: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.first_load.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        self._callbacks: list[Callback] = []
        self._waiters: list[tuple[Callable[[Mapping[str, JSON]], Any], asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<Reflector {self.kind.name}s in {self.namespace!r} ({self.label_selector or 'all'})>"

    @property
    def cache(self) -> Mapping[str, JSON]:
        """Name -> the object's latest JSON. Read-only: the watch is its only writer."""
        return self._cache

    # ---------------------------------------------------------------------------------- control
    def start(self) -> None:
        """Begin (or resume) listing and watching in a task on the running loop."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=repr(self))

    async def stop(self) -> None:
        """Stop watching (the open watch request is closed); the cache stays as it was."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ---------------------------------------------------------------------------------- readers
    def on_change(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(type, object)`` on every change from now on; returns the unsubscriber."""
        self._callbacks.append(callback)
        return lambda: self._callbacks.remove(callback) if callback in self._callbacks else None

    async def wait_for(self, predicate: Callable[[Mapping[str, JSON]], T | None], timeout: float | None = None) -> T:
        """Once the first list is in, the first truthy ``predicate(cache)``, checked now and after
        every change (e.g. "the Service's EndpointSlice has a ready endpoint"); TimeoutError after
        ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        await asyncio.wait_for(asyncio.shield(self.first_load), timeout)
        found = predicate(self._cache)
        if found:
            return found
        future: asyncio.Future[T] = loop.create_future()
        waiter = (predicate, future)
        self._waiters.append(waiter)
        try:
            return await asyncio.wait_for(future, None if deadline is None else max(0.0, deadline - loop.time()))
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    # ---------------------------------------------------------------------------------- the loop
    async def _run(self) -> None:
        delay = 0.0
        while True:
            if delay:
                await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            try:
                if self.resource_version is None:
                    await self._relist()
                await self._watch()
                delay = 0.0
            except ApiException as exc:
                if exc.status == _GONE:
                    self.log.info("%r: resource version %s is gone (410): listing again", self, self.resource_version)
                    self.resource_version, delay = None, 0.0
                    continue
                if exc.status in _FATAL and not self.first_load.done():
                    self.first_load.set_exception(ReflectorError(
                        f"cannot list {self.kind.name}s in namespace {self.namespace!r}: "
                        f"{exc.status} {exc.reason or ''}".rstrip(), exc.status))
                    return
                delay = self._backoff(delay, f"{exc.status} {exc.reason}")
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                delay = self._backoff(delay, str(exc) or type(exc).__name__)

    def _backoff(self, delay: float, why: str) -> float:
        delay = min(self.backoff_max, max(0.2, delay * 2))
        self.log.warning("%r: %s; retrying in %.1f s", self, why, delay)
        return delay

    async def _relist(self) -> None:
        """A full list, page by page; the difference to the cache goes out as events."""
        found: dict[str, JSON] = {}
        token: str | None = None
        while True:
            page = await self._call(limit=PAGE, _continue=token)
            for item in page.get("items") or ():
                found[item["metadata"]["name"]] = item
            token = page["metadata"].get("continue")
            if not token:
                break
        self.lists += 1
        old, self._cache = self._cache, found
        self.resource_version = page["metadata"]["resourceVersion"]
        for name, obj in old.items():
            if name not in found:
                self._notify("DELETED", obj)
        for name, obj in found.items():
            before = old.get(name)
            if before is None:
                self._notify("ADDED", obj)
            elif before["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                self._notify("MODIFIED", obj)
        if not self.first_load.done():
            self.first_load.set_result(None)
        self._check_waiters()

    async def _call(self, **params: Any) -> JSON:
        params = {k: v for k, v in params.items() if v is not None}
        response = await self._list(self.namespace, label_selector=self.label_selector, _preload_content=False,
                                    _request_timeout=(10, 60), **params)
        try:
            body = await response.read()
        finally:
            response.release()
        if not 200 <= response.status <= 299:  # unread content: the client raises nothing itself
            raise ApiException(status=response.status, reason=_status_message(body) or response.reason)
        return json.loads(body)

    async def _watch(self) -> None:
        """One watch request, from ``resource_version`` until the server ends it (``watch_timeout``)."""
        watch = Watch(return_type="object")  # "object": the event's JSON as is, no model classes
        stream = watch.stream(self._list, self.namespace, label_selector=self.label_selector,
                              resource_version=self.resource_version, allow_watch_bookmarks=True,
                              timeout_seconds=self.watch_timeout,
                              _request_timeout=(10, self.watch_timeout + 15))
        async with watch:
            async for event in stream:
                if not isinstance(event, dict):  # a line that is not JSON: retried like a broken connection
                    raise ApiException(status=0, reason=f"unreadable watch line {str(event)[:200]!r}")
                kind, obj = event["type"], event["raw_object"]
                self.resource_version = obj["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if kind == "DELETED":
                    self._cache.pop(name, None)
                else:
                    self._cache[name] = obj
                self._notify(kind, obj)
                self._check_waiters()

    def _notify(self, kind: EventType, obj: JSON) -> None:
        for callback in list(self._callbacks):
            try:
                callback(kind, obj)
            except Exception:  # one reader's bug must not stop the watch
                self.log.exception("%r: change callback %r failed", self, callback)

    def _check_waiters(self) -> None:
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                found = predicate(self._cache)
            except Exception as exc:
                future.set_exception(exc)
                continue
            if found:
                future.set_result(found)


def _status_message(body: bytes) -> str | None:
    """The message of the apiserver's Status answer (who may not do what), if it is one."""
    try:
        status = json.loads(body)
    except ValueError:
        return None
    return status.get("message") if isinstance(status, dict) else None


def ready_endpoint(service: str) -> Callable[[Mapping[str, JSON]], tuple[str, ...]]:
    """Predicate for an EndpointSlice reflector: the ready addresses of the Service named ``service``
    (an empty tuple, falsy, until one is ready). A wake releases held requests only then."""

    def addresses(slices: Mapping[str, JSON]) -> tuple[str, ...]:
        return tuple(
            address
            for piece in slices.values()
            if piece["metadata"].get("labels", {}).get("kubernetes.io/service-name") == service
            for endpoint in piece.get("endpoints") or ()
            if (endpoint.get("conditions") or {}).get("ready")
            for address in endpoint.get("addresses") or ()
        )

    return addresses
