"""The pod template of a service: its containers, volumes, placement and security, as the API's JSON.

Pure: the same spec and settings always give the same template, so the Deployment rolls out only
when the spec changes. The template carries the spec's labels, annotations and readiness (pod
annotations are often functional: scraping, eviction), so a change of those rolls the pods too,
where locally they apply in place; the backend's update strategy (next slice) owns that choice.
"""

from __future__ import annotations

import math
import posixpath
from typing import Any

from jupyter_svc.model.placeholders import env_var_for, fill, fill_all
from jupyter_svc.model.spec import Container, Resources, ServiceSpec

from .ports import MAIN_PORT_NAME, ContainerPorts
from .settings import MAIN_CONTAINER, KubernetesSettings

#: Seconds one readiness GET may take, as the local probe allows (services/readiness.py).
PROBE_TIMEOUT = 2
HOME_VOLUME = "home"
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"

JSON = dict[str, Any]


def pod_template(spec: ServiceSpec, settings: KubernetesSettings, ports: ContainerPorts, base_url: str) -> JSON:
    """``spec.template`` of the service's Deployment; ``spec`` has passed :func:`checks.check`."""
    values = ports.placeholders(spec, base_url)
    env = _base_env(spec, settings, values)
    mounts, volumes = _storage(spec, settings)
    main = _container(MAIN_CONTAINER, spec.image, spec.cwd, spec.resources, settings, env, mounts)
    main.update(_command(spec, values))
    main["ports"] = [{"name": MAIN_PORT_NAME, "containerPort": ports.main, "protocol": "TCP"}]
    main["ports"] += [{"name": p.name, "containerPort": ports.extra[p.name], "protocol": p.protocol}
                      for p in spec.ports]
    main["readinessProbe"] = _readiness_probe(spec, base_url)
    sidecars = [_step(step, spec, settings, values, env, mounts) for step in spec.sidecars]
    init = [_step(step, spec, settings, values, env, mounts) for step in spec.init]
    containers = [main, *sidecars, *init]
    pod: JSON = {
        "containers": [main, *sidecars],
        "initContainers": init,
        "volumes": volumes,
        "imagePullSecrets": [{"name": secret} for secret in spec.image_pull_secrets],
        "nodeSelector": dict(spec.node_selector),
        "priorityClassName": spec.priority_class,
        "tolerations": _tolerations(settings, containers),
        "serviceAccountName": settings.service_account,
        "automountServiceAccountToken": settings.service_account is not None,
        "enableServiceLinks": False,  # no env per Service in the namespace: a shared one has hundreds
        "securityContext": _pod_security(settings),
    }
    return {
        "metadata": {
            "labels": {**spec.labels, **settings.common_labels(), **settings.selector_labels(spec.name)},
            "annotations": {**spec.annotations, DEFAULT_CONTAINER_ANNOTATION: MAIN_CONTAINER},
        },
        "spec": pod,
    }


def _base_env(spec: ServiceSpec, settings: KubernetesSettings, values: dict[str, str]) -> dict[str, str]:
    """What the local backend gives a service (its name, port, base URL, dependencies' URLs), then its env."""
    env = {"JUPYTER_SVC_NAME": spec.name, "JUPYTER_SVC_PORT": values["port"],
           "JUPYTER_SVC_BASE_URL": values["base_url"]}
    env.update({env_var_for(dep): settings.service_url(dep) for dep in spec.depends_on})
    env.update({name: fill(value, values) for name, value in spec.env.items()})
    return env


def _command(spec: ServiceSpec, values: dict[str, str]) -> JSON:
    """argv replaces the image's entrypoint; a shell string runs through ``/bin/sh -c``; none keeps the image's."""
    if isinstance(spec.command, str):
        return {"command": ["/bin/sh", "-c"], "args": [fill(spec.command, values)]}
    if spec.command:
        return {"command": fill_all(spec.command, values)}
    return {}


def _step(step: Container, spec: ServiceSpec, settings: KubernetesSettings, values: dict[str, str],
          env: dict[str, str], mounts: list[JSON]) -> JSON:
    """A sidecar or init step: the service's image unless it names one, the service's env plus its own."""
    own_env = {**env, **{name: fill(value, values) for name, value in step.env.items()}}
    container = _container(step.name, step.image or spec.image, step.cwd, step.resources, settings, own_env, mounts)
    if step.command:
        container["command"] = fill_all(step.command, values)
    return container


def _container(name: str, image: str | None, cwd: str | None, resources: Resources,
               settings: KubernetesSettings, env: dict[str, str], mounts: list[JSON]) -> JSON:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": settings.image_pull_policy,
        "workingDir": None if cwd is None else posixpath.join(settings.home_mount_path, cwd),
        "env": [{"name": key, "value": value} for key, value in env.items()],
        "resources": _resources(resources, settings),
        "volumeMounts": mounts,
        "securityContext": _container_security(settings),
    }


def _resources(resources: Resources, settings: KubernetesSettings) -> JSON:
    """Requests and limits as Kubernetes quantity strings; GPUs in both, equal (they cannot be overcommitted)."""
    gpu = resources.limits.gpu or resources.requests.gpu
    out: JSON = {}
    for side in ("requests", "limits"):
        amounts = getattr(resources, side)
        values = {kind: quantity.strip() for kind in ("cpu", "memory") if (quantity := getattr(amounts, kind))}
        if gpu is not None:
            values[settings.gpu_resource] = gpu.strip()
        if values:
            out[side] = values
    return out


def _readiness_probe(spec: ServiceSpec, base_url: str) -> JSON:
    """The spec's readiness as an HTTP probe on the app's port: under the base URL when the path is not
    rewritten, as the local probe does. (Kubernetes counts 200-399 as ready; checks refuse other statuses.)"""
    prefix = "" if spec.rewrite_path else base_url.rstrip("/")
    return {
        "httpGet": {"path": prefix + spec.readiness.path, "port": MAIN_PORT_NAME, "scheme": "HTTP"},
        "periodSeconds": max(1, math.ceil(spec.readiness.interval)),
        "timeoutSeconds": PROBE_TIMEOUT,
    }


def _storage(spec: ServiceSpec, settings: KubernetesSettings) -> tuple[list[JSON], list[JSON]]:
    """(mounts of every container, pod volumes): one volume per claim, however often it is mounted."""
    mounts: list[JSON] = []
    volumes: list[JSON] = []
    if settings.home_claim:
        volumes.append({"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": settings.home_claim}})
        mounts.append({"name": HOME_VOLUME, "mountPath": settings.home_mount_path, "subPath": settings.home_sub_path})
    names: dict[str, str] = {}
    for volume in spec.volumes:
        if volume.claim not in names:
            names[volume.claim] = f"claim-{len(names)}"
            volumes.append({"name": names[volume.claim], "persistentVolumeClaim": {"claimName": volume.claim}})
        mounts.append({"name": names[volume.claim], "mountPath": volume.mount_path, "subPath": volume.sub_path,
                       "readOnly": volume.read_only or None})
    return mounts, volumes


def _tolerations(settings: KubernetesSettings, containers: list[JSON]) -> list[JSON]:
    """The configured ones, plus the GPU nodes' usual taint when a container asks for GPUs (as the
    ExtendedResourceToleration admission plugin would add, where a cluster enables it)."""
    tolerations: list[JSON] = [{"key": t.key, "operator": t.operator, "value": t.value, "effect": t.effect,
                    "tolerationSeconds": t.seconds} for t in settings.tolerations]
    wants_gpu = any(settings.gpu_resource in c["resources"].get("limits", {}) for c in containers)
    gpu: JSON = {"key": settings.gpu_resource, "operator": "Exists", "effect": "NoSchedule"}
    if wants_gpu and not any(all(t.get(k) == v for k, v in gpu.items()) for t in tolerations):
        tolerations.append(gpu)
    return tolerations


def _pod_security(settings: KubernetesSettings) -> JSON:
    security: JSON = {"runAsUser": settings.run_as_user, "runAsGroup": settings.run_as_group,
                      "fsGroup": settings.fs_group}
    if settings.restricted:
        security.update({"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}})
    return security


def _container_security(settings: KubernetesSettings) -> JSON | None:
    if not settings.restricted:
        return None
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
