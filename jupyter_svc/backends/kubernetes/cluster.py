"""The backend's writes to the apiserver and its log reads: ``kubernetes_asyncio`` on the server's loop.

Each operation is one API call (or two), awaited on the event loop (aiohttp), never blocking it.
Answers are read as the API's JSON (``_preload_content=False``), as the reflector reads them: no
model classes are built. Create and update are one server-side apply (field manager
``jupyter-svc``), so fields other managers own (an HPA's replicas, a person's annotation) are
left alone and a re-apply of the same spec changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import Any

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException

from jupyter_svc.model.errors import Unavailable

JSON = dict[str, Any]

FIELD_MANAGER = "jupyter-svc"
#: What ``kubectl rollout restart`` sets on the pod template: a new value rolls every pod.
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
_APPLY = "application/apply-patch+yaml"  # JSON is YAML: the body goes as JSON
_MERGE = "application/merge-patch+json"


class ClusterError(Unavailable):
    """The apiserver refused (``status``: its answer, with its own message: who may not do what,
    which field) or did not answer (``status`` 0); a 503 where it reaches the API."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _unreachable(exc: BaseException) -> ClusterError:
    return ClusterError(f"the apiserver did not answer: {exc or type(exc).__name__}")


async def _read(response: Any) -> JSON:
    """The answer's JSON; a non-2xx answer raises ClusterError with the apiserver's message."""
    try:
        body = await response.read()
    finally:
        response.release()
    data = json.loads(body) if body else {}
    if not 200 <= response.status <= 299:
        message = data.get("message") if isinstance(data, dict) else None
        raise ClusterError(f"{response.status} {message or response.reason}", response.status)
    return data if isinstance(data, dict) else {}


def _refused(exc: ApiException) -> ClusterError:
    try:
        message = json.loads(exc.body or b"{}").get("message")
    except (ValueError, AttributeError):
        message = None
    return ClusterError(f"{exc.status} {message or exc.reason}", exc.status or 0)


class Cluster:
    """The operations on one namespace, through one ``ApiClient`` (the backend owns and closes it)."""

    def __init__(self, api: k8s.ApiClient, namespace: str, request_timeout: float = 30.0) -> None:
        self.api, self.namespace = api, namespace
        self.apps, self.core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
        self._timeout = request_timeout

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> JSON:
        try:
            response = await method(*args, _preload_content=False, _request_timeout=self._timeout, **kwargs)
            return await _read(response)
        except ApiException as exc:
            raise _refused(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from None

    # ------------------------------------------------------------------------- create / update
    async def apply(self, obj: JSON, dry_run: bool = False) -> JSON:
        """Server-side apply of a Deployment or a Service built by ``objects.py``; the stored object.
        Forced: this server is the one manager of the fields it sets."""
        kind, name = obj["kind"], obj["metadata"]["name"]
        method = {"Deployment": self.apps.patch_namespaced_deployment,
                  "Service": self.core.patch_namespaced_service}[kind]
        extra = {"dry_run": "All"} if dry_run else {}
        return await self._call(method, name, self.namespace, obj, field_manager=FIELD_MANAGER, force=True,
                                _content_type=_APPLY, **extra)

    async def scale(self, name: str, replicas: int) -> JSON:
        """The Deployment's scale subresource (0: scaled to zero or disabled); the Scale object."""
        return await self._call(self.apps.patch_namespaced_deployment_scale, name, self.namespace,
                                {"spec": {"replicas": replicas}}, field_manager=FIELD_MANAGER, _content_type=_MERGE)

    async def rollout_restart(self, name: str, stamp: str | None = "now") -> JSON:
        """A new pod-template annotation, as ``kubectl rollout restart``: the Deployment replaces every
        pod, new ones first; the stored Deployment. ``stamp``: the annotation's value ("now": the
        current time; None removes it: a failed restart rolled back to the template before it)."""
        if stamp == "now":
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
        return await self._call(self.apps.patch_namespaced_deployment, name, self.namespace, patch,
                                field_manager=FIELD_MANAGER, _content_type=_MERGE)

    async def get_deployment(self, name: str) -> JSON | None:
        return await self._read(self.apps.read_namespaced_deployment, name)

    async def get_service(self, name: str) -> JSON | None:
        return await self._read(self.core.read_namespaced_service, name)

    async def get_pod(self, name: str) -> JSON | None:
        """A pod by name (the Jupyter server's own, to own the services' objects by its uid)."""
        return await self._read(self.core.read_namespaced_pod, name)

    async def _read(self, method: Any, name: str) -> JSON | None:
        """The object named ``name`` in the namespace, or None if there is none."""
        try:
            return await self._call(method, name, self.namespace)
        except ClusterError as exc:
            if exc.status == 404:
                return None
            raise

    # ------------------------------------------------------------------------- delete / list
    async def delete(self, name: str) -> bool:
        """The Deployment and the Service named ``name``, Background propagation (the garbage
        collector takes the ReplicaSets and pods); False when neither existed."""
        found = False
        for method in (self.apps.delete_namespaced_deployment, self.core.delete_namespaced_service):
            try:
                await self._call(method, name, self.namespace, propagation_policy="Background")
                found = True
            except ClusterError as exc:
                if exc.status != 404:
                    raise
        return found

    async def list_owned(self, selector: str) -> dict[str, list[JSON]]:
        """Deployments and Services with this server's labels: what adoption and orphan removal read."""
        found: dict[str, list[JSON]] = {}
        calls = {"Deployment": self.apps.list_namespaced_deployment, "Service": self.core.list_namespaced_service}
        for kind, method in calls.items():
            page = await self._call(method, self.namespace, label_selector=selector)
            found[kind] = list(page.get("items") or ())
        return found

    # ------------------------------------------------------------------------- logs
    async def log_lines(self, pod: str, container: str, tail: int | None = None) -> list[str]:
        """The last ``tail`` lines (all when None) a container of ``pod`` printed."""
        params: dict[str, Any] = {} if tail is None else {"tail_lines": tail}
        try:
            response: Any = await self.core.read_namespaced_pod_log(
                pod, self.namespace, container=container, _preload_content=False,
                _request_timeout=self._timeout, **params)
            try:
                body = await response.read()
            finally:
                response.release()
        except ApiException as exc:
            raise _refused(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from None
        if not 200 <= response.status <= 299:
            raise ClusterError(f"{response.status} {body.decode(errors='replace')[:300]}", response.status)
        return body.decode(errors="replace").splitlines()

    async def follow_log(self, pod: str, container: str, tail: int | None = 0) -> AsyncIterator[str]:
        """Lines as ``container`` of ``pod`` prints them (after the last ``tail``), until the pod
        ends or the consumer stops iterating (the request is closed then)."""
        params: dict[str, Any] = {} if tail is None else {"tail_lines": tail}
        try:
            response: Any = await self.core.read_namespaced_pod_log(
                pod, self.namespace, container=container, follow=True, _preload_content=False,
                _request_timeout=aiohttp.ClientTimeout(sock_connect=10), **params)
        except ApiException as exc:
            raise _refused(exc) from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _unreachable(exc) from None
        try:
            if not 200 <= response.status <= 299:
                body = await response.read()
                raise ClusterError(f"{response.status} {body.decode(errors='replace')[:300]}", response.status)
            async for line in response.content:
                yield line.decode(errors="replace").rstrip("\r\n")
        finally:
            response.release()
            response.close()
