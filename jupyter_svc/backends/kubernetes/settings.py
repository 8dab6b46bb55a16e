"""What the object builders need to know besides the spec: where, for whom, and the cluster's ways.

Frozen and checked once when made, so every object built from it is named and labelled alike; the
backend (next slice) fills it from its traitlets options (``c.KubernetesBackend.namespace``, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from .names import (
    MAX_LABEL,
    as_label_value,
    digest,
    dns_1035_label_problem,
    dns_label_problem,
    label_value_problem,
    qualified_name_problem,
    subdomain_problem,
)

#: Labels on every object: who manages it, for whom (selects this server's objects), which service.
MANAGED_BY_KEY, MANAGED_BY = "app.kubernetes.io/managed-by", "jupyter-svc"
OWNER_KEY = "jupyter-svc/owner"
SERVICE_KEY = "jupyter-svc/service"
#: The app's container in every pod; sidecars and init steps need other names.
MAIN_CONTAINER = "app"


@dataclass(frozen=True)
class OwnerPod:
    """The Jupyter server's own pod: its services' objects are deleted with it (a culled hub server)."""

    name: str
    uid: str


@dataclass(frozen=True)
class Toleration:
    """A taint the services' pods tolerate (``tolerationSeconds`` as ``seconds``)."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    seconds: int | None = None

    def __post_init__(self) -> None:
        if self.operator == "Exists" and self.value:
            raise ValueError(f"toleration {self.key!r}: operator 'Exists' takes no value")
        if self.seconds is not None and self.effect != "NoExecute":
            raise ValueError(f"toleration {self.key!r}: seconds apply to the 'NoExecute' effect only")


@dataclass(frozen=True)
class KubernetesSettings:
    """Where and for whom the objects are made; everything but ``namespace`` and ``owner`` has a default."""

    namespace: str
    #: The Jupyter user or server the services belong to; a label value (sanitised) on every object.
    owner: str
    #: Objects are named ``<name_prefix><service>-<digest of owner and service>``: unique per owner
    #: in a namespace that many users share, and a valid Service name whatever the service is called.
    name_prefix: str = "svc-"
    #: More labels on every object (a hub's ``hub.jupyter.org/username``, a cost centre, ...).
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    gpu_resource: str = "nvidia.com/gpu"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = "IfNotPresent"
    #: Pods get this ServiceAccount and its token; without one no token is mounted.
    service_account: str | None = None
    #: The user's home claim, mounted into every container of every service when set.
    home_claim: str | None = None
    home_mount_path: str = "/home/jovyan"
    home_sub_path: str | None = None
    owner_pod: OwnerPod | None = None
    cluster_domain: str = "cluster.local"
    #: The app's port when the spec says 0 (a pod has its own network: any fixed port is free).
    default_port: int = 8080
    #: The Service's port for the app: dependencies reach ``http://<host>/`` whatever the app's port.
    service_port: int = 80
    tolerations: tuple[Toleration, ...] = ()
    #: Pod Security "restricted": non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp.
    restricted: bool = True
    run_as_user: int | None = None
    run_as_group: int | None = None
    fs_group: int | None = None
    #: Seconds a rollout may take when the spec's readiness has no timeout (the server's readiness_timeout).
    readiness_timeout: float = 60.0

    def __post_init__(self) -> None:
        problems = {
            "namespace": dns_label_problem(self.namespace),
            "name_prefix": self._prefix_problem(),
            "gpu_resource": self._resource_problem(),
            "service_account": self.service_account and subdomain_problem(self.service_account),
            "home_claim": self.home_claim and subdomain_problem(self.home_claim),
            "home_mount_path": None if self.home_mount_path.startswith("/") else "must be an absolute path",
            "cluster_domain": subdomain_problem(self.cluster_domain),
            "default_port": None if 0 < self.default_port < 65536 else "must be 1-65535",
            "service_port": None if 0 < self.service_port < 65536 else "must be 1-65535",
            "readiness_timeout": None if self.readiness_timeout > 0 else "must be positive",
        }
        for key, value in self.extra_labels.items():
            problems[f"extra_labels.{key}"] = qualified_name_problem(key) or label_value_problem(value)
        found = [f"{name}: {problem}" for name, problem in problems.items() if problem]
        if found:
            raise ValueError("invalid Kubernetes settings: " + "; ".join(found))

    def _prefix_problem(self) -> str | None:
        if len(self.name_prefix) > 30:
            return "must be at most 30 characters (object names are at most 63)"
        return dns_1035_label_problem(self.name_prefix + "x")

    def _resource_problem(self) -> str | None:
        if "/" not in self.gpu_resource:
            return f"{self.gpu_resource!r} must be an extended resource name such as 'nvidia.com/gpu'"
        return qualified_name_problem(self.gpu_resource)

    # --------------------------------------------------------------- names and labels
    def object_name(self, service: str) -> str:
        """The Deployment's and the Service's name: readable, at most 63 characters, unique per owner."""
        room = MAX_LABEL - len(self.name_prefix) - 9
        return f"{self.name_prefix}{service[:room]}-{digest(self.owner, service)}"

    @property
    def owner_label(self) -> str:
        return as_label_value(self.owner)

    def common_labels(self) -> dict[str, str]:
        """On every object of this server: what a list or watch of "ours" selects by."""
        return {**self.extra_labels, MANAGED_BY_KEY: MANAGED_BY, OWNER_KEY: self.owner_label}

    def owner_selector(self) -> str:
        """Label selector of every object this server made (for list and watch)."""
        return f"{MANAGED_BY_KEY}={MANAGED_BY},{OWNER_KEY}={self.owner_label}"

    def selector_labels(self, service: str) -> dict[str, str]:
        """The pods of one service: the Deployment's and the Service's selector, never changed."""
        return {MANAGED_BY_KEY: MANAGED_BY, OWNER_KEY: self.owner_label, SERVICE_KEY: service}

    def service_host(self, service: str) -> str:
        """The Service's cluster DNS name."""
        return f"{self.object_name(service)}.{self.namespace}.svc.{self.cluster_domain}"

    def service_url(self, service: str) -> str:
        """What a dependent service gets in ``SVC_<NAME>_URL``: the Service, inside the cluster."""
        port = "" if self.service_port == 80 else f":{self.service_port}"
        return f"http://{self.service_host(service)}{port}/"
