"""What a spec asks that a Deployment cannot do, or that the apiserver would refuse, by field.

Run at validation (the backend's ``check``), so the user gets a 422 naming the field instead of
the apiserver's error at start; the object builders refuse a spec that fails it.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator, Mapping

from jupyter_svc.model.errors import FieldError
from jupyter_svc.model.placeholders import UNIX_SOCKET, fields_mentioning
from jupyter_svc.model.spec import Container, RestartPolicy, ServiceSpec

from .names import (
    dns_label_problem,
    label_value_problem,
    port_name_problem,
    qualified_name_problem,
    subdomain_problem,
)
from .ports import MAIN_PORT_NAME, container_ports
from .settings import MAIN_CONTAINER, KubernetesSettings


def check(spec: ServiceSpec, settings: KubernetesSettings) -> list[FieldError]:
    """Fields of ``spec`` the Kubernetes backend cannot honour; empty when it can run it."""
    return list(_problems(spec, settings))


def _problems(spec: ServiceSpec, settings: KubernetesSettings) -> Iterator[FieldError]:
    if not spec.image:
        yield FieldError("image", "the kubernetes backend runs containers: set the image to run")
    if spec.restart_policy is not RestartPolicy.always:
        yield FieldError("restart_policy", "a Deployment always restarts its pods: use 'always'")
    if spec.secret_env:  # the Deployment would hold them in clear; a Secret object comes later
        yield FieldError("secret_env", "not supported by the kubernetes backend yet: it would store "
                                       "the values in the Deployment in clear")
    if spec.inherit_env:
        yield FieldError("inherit_env", "a pod does not run in the server's environment: nothing to inherit")
    yield from _unix_socket(spec)
    yield from _labels("labels", spec.labels, values=True)
    yield from _labels("annotations", spec.annotations, values=False)
    yield from _labels("node_selector", spec.node_selector, values=True)
    for i, secret in enumerate(spec.image_pull_secrets):
        if problem := subdomain_problem(secret):
            yield FieldError(f"image_pull_secrets[{i}]", problem)
    if spec.priority_class and (problem := subdomain_problem(spec.priority_class)):
        yield FieldError("priority_class", problem)
    yield from _ports(spec, settings)
    yield from _readiness(spec)
    yield from _gpus("resources", spec.resources.requests.gpu, spec.resources.limits.gpu)
    yield from _volumes(spec, settings)
    yield from _containers(spec, settings)


def _unix_socket(spec: ServiceSpec) -> Iterator[FieldError]:
    """``{unix_socket}`` names a socket only this server can reach: a pod is reached on its port."""
    for field in fields_mentioning(spec, UNIX_SOCKET):
        yield FieldError(field, "{unix_socket} is the local backend's: a pod is reached over TCP, listen on {port}")


def _labels(where: str, items: Mapping[str, str], values: bool) -> Iterator[FieldError]:
    for key, value in items.items():
        problem = qualified_name_problem(key) or (label_value_problem(value) if values else None)
        if problem:
            yield FieldError(f"{where}.{key}", problem)


def _ports(spec: ServiceSpec, settings: KubernetesSettings) -> Iterator[FieldError]:
    main = spec.port or settings.default_port
    taken: dict[tuple[int, str], str] = {(main, "TCP"): "port"}
    for i, port in enumerate(spec.ports):
        if port.name == MAIN_PORT_NAME:
            yield FieldError(f"ports[{i}].name", f"{MAIN_PORT_NAME!r} is the app's main port on kubernetes")
        elif problem := port_name_problem(port.name):
            yield FieldError(f"ports[{i}].name", problem)
        if port.port and (clash := taken.get((port.port, port.protocol))):
            yield FieldError(f"ports[{i}].port", f"{port.port}/{port.protocol} is already {clash}")
        taken.setdefault((port.port, port.protocol), f"ports[{i}]")
    for i, (port, number) in enumerate(zip(spec.ports, container_ports(spec, settings).extra.values(), strict=True)):
        if number == settings.service_port and port.protocol == "TCP":
            yield FieldError(f"ports[{i}].port", f"{number} is the Service's port for the app on kubernetes")


def _readiness(spec: ServiceSpec) -> Iterator[FieldError]:
    statuses = spec.readiness.statuses or []
    outside = sorted(s for s in statuses if not 200 <= s < 400)
    if outside:
        yield FieldError("readiness.statuses", f"a Kubernetes HTTP probe accepts 200-399 only, not {outside}")


def _gpus(where: str, request: str | None, limit: str | None) -> Iterator[FieldError]:
    if request is not None and limit is not None and request.strip() != limit.strip():
        yield FieldError(f"{where}.requests.gpu", "GPUs are not shared on Kubernetes: requests must equal limits")


def _volumes(spec: ServiceSpec, settings: KubernetesSettings) -> Iterator[FieldError]:
    mounted = {settings.home_mount_path: "the home volume"} if settings.home_claim else {}
    for i, volume in enumerate(spec.volumes):
        if problem := subdomain_problem(volume.claim):
            yield FieldError(f"volumes[{i}].claim", problem)
        path = posixpath.normpath(volume.mount_path)
        if clash := mounted.get(path):
            yield FieldError(f"volumes[{i}].mount_path", f"{path} is already {clash}")
        mounted.setdefault(path, f"volumes[{i}]")
        sub = volume.sub_path
        if sub is not None and (sub.startswith("/") or ".." in sub.split("/")):
            yield FieldError(f"volumes[{i}].sub_path", "must be a relative path without '..'")


def _containers(spec: ServiceSpec, settings: KubernetesSettings) -> Iterator[FieldError]:
    if spec.cwd is not None:
        yield from _cwd("cwd", spec.cwd, settings)
    names = {MAIN_CONTAINER: "the app's container"}
    groups: list[tuple[str, list[Container]]] = [("sidecars", spec.sidecars), ("init", spec.init)]
    for group, containers in groups:
        for i, container in enumerate(containers):
            where = f"{group}[{i}]"
            if clash := names.get(container.name):
                yield FieldError(f"{where}.name", f"{container.name!r} is already {clash}")
            elif problem := dns_label_problem(container.name):
                yield FieldError(f"{where}.name", problem)
            names.setdefault(container.name, where)
            if container.cwd is not None:
                yield from _cwd(f"{where}.cwd", container.cwd, settings)
            resources = container.resources
            yield from _gpus(f"{where}.resources", resources.requests.gpu, resources.limits.gpu)


def _cwd(where: str, cwd: str, settings: KubernetesSettings) -> Iterator[FieldError]:
    if not cwd.startswith("/") and not settings.home_claim:
        yield FieldError(where, "must be an absolute path in a container (relative ones need a home volume)")
