"""A service's Kubernetes objects, built from its spec: one Deployment and one ClusterIP Service.

Pure functions, no I/O and no client configuration (as KubeSpawner's ``objects.py``): the output is
the API's own JSON, ready for a create or a server-side apply, and tests check it against the
official schemas and a real apiserver. Plain dicts rather than the ``kubernetes`` client's models:
importing those models takes seconds, and the dicts are what the API takes anyway.
"""

from __future__ import annotations

import math
from typing import Any

from jupyter_svc.model.errors import SpecInvalid
from jupyter_svc.model.spec import DesiredState, ServiceSpec

from .checks import check
from .pod import JSON, pod_template
from .ports import MAIN_PORT_NAME, container_ports
from .settings import KubernetesSettings

#: Old ReplicaSets kept for a rollback.
REVISION_HISTORY = 3


def build_deployment(spec: ServiceSpec, settings: KubernetesSettings, base_url: str) -> JSON:
    """The Deployment that runs ``spec``; ``base_url`` is what ``{base_url}`` means (the proxy's prefix).

    Zero replicas when the service is scaled to zero or disabled. A rollout starts new pods before
    it stops old ones (``maxUnavailable: 0``), so the old version serves until the new one is ready.
    """
    _require_runnable(spec, settings)
    running = spec.desired_state is DesiredState.ready
    timeout = spec.readiness.timeout or settings.readiness_timeout
    return _compact({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(spec, settings),
        "spec": {
            "replicas": spec.replicas if running else 0,
            "selector": {"matchLabels": settings.selector_labels(spec.name)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "revisionHistoryLimit": REVISION_HISTORY,
            "progressDeadlineSeconds": max(1, math.ceil(timeout)),
            "template": pod_template(spec, settings, container_ports(spec, settings), base_url),
        },
    })


def build_service(spec: ServiceSpec, settings: KubernetesSettings, deployment_uid: str | None = None) -> JSON:
    """The ClusterIP Service in front of the Deployment's ready pods: the app's port as
    ``settings.service_port`` (name ``http``), extra ports under their own numbers.

    With the Deployment's ``deployment_uid`` (known once it exists) the Service is owned by it, so
    deleting the Deployment deletes the Service too.
    """
    _require_runnable(spec, settings)
    ports = container_ports(spec, settings)
    owners = [] if deployment_uid is None else [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": settings.object_name(spec.name), "uid": deployment_uid,
    }]
    service_ports = [{"name": MAIN_PORT_NAME, "port": settings.service_port, "targetPort": MAIN_PORT_NAME,
                      "protocol": "TCP", "appProtocol": "http"}]
    service_ports += [{"name": p.name, "port": ports.extra[p.name], "targetPort": p.name, "protocol": p.protocol}
                      for p in spec.ports]
    return _compact({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec, settings, owners),
        "spec": {"type": "ClusterIP", "selector": settings.selector_labels(spec.name), "ports": service_ports},
    })


def _require_runnable(spec: ServiceSpec, settings: KubernetesSettings) -> None:
    errors = check(spec, settings)
    if errors:
        raise SpecInvalid("the kubernetes backend cannot run this spec", errors)


def _metadata(spec: ServiceSpec, settings: KubernetesSettings, owners: list[JSON] | None = None) -> JSON:
    owners = list(owners or [])
    if settings.owner_pod is not None:
        pod = settings.owner_pod
        owners.append({"apiVersion": "v1", "kind": "Pod", "name": pod.name, "uid": pod.uid})
    return {
        "name": settings.object_name(spec.name),
        "namespace": settings.namespace,
        "labels": {**spec.labels, **settings.common_labels(), **settings.selector_labels(spec.name)},
        "annotations": dict(spec.annotations),
        "ownerReferences": owners,
    }


def _compact(value: Any) -> Any:
    """Drop unset fields (None, empty lists and maps) so the object says only what was asked."""
    if isinstance(value, dict):
        items = ((key, _compact(item)) for key, item in value.items())
        return {key: item for key, item in items if item is not None and item != [] and item != {}}
    if isinstance(value, list):
        return [_compact(item) for item in value]
    return value
