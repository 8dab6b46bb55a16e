"""What runs on the cluster, read from the objects the reflectors cache: pure, no I/O.

The backend never asks the apiserver "is it ready?": it reads the Deployment, its ReplicaSets, its
pods and the Service's EndpointSlices as the watches last saw them, and this module turns them into
one answer: ``starting``, ``ready`` or ``failed`` with the pod's own reason (the kubelet's
``ImagePullBackOff``, ``CrashLoopBackOff`` with the last termination's reason and exit code,
``OOMKilled``, the scheduler's ``Unschedulable`` message), and how far a rollout got (as
``kubectl rollout status`` reads it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .ports import MAIN_PORT_NAME
from .settings import MAIN_CONTAINER

JSON = dict[str, Any]

#: What the Deployment controller writes on the Deployment and on each of its ReplicaSets.
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
TEMPLATE_HASH_LABEL = "pod-template-hash"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

#: A container waiting for one of these will not start without a change (or a person): a failure.
FAILING_WAITS = frozenset({
    "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "CrashLoopBackOff",
    "CreateContainerConfigError", "CreateContainerError", "RunContainerError",
})

Phase = Literal["absent", "zero", "starting", "ready", "failed"]


@dataclass(frozen=True)
class PodProblem:
    """Why one pod of a service does not serve: the kubelet's or the scheduler's own words."""

    pod: str
    reason: str
    message: str = ""
    container: str | None = None
    exit_code: int | None = None
    #: the reason of the container's last termination (``OOMKilled``, ``Error``, ``Completed``)
    last_reason: str | None = None

    def describe(self) -> str:
        where = f"pod {self.pod}" + (f", container {self.container}" if self.container else "")
        last = self.last_reason if self.last_reason and self.last_reason != self.reason else None
        if self.exit_code is not None:
            ended = f"exited with code {self.exit_code}" + (f" ({last})" if last else "")
        else:
            ended = f"last terminated {last}" if last else ""
        return f"{self.reason} ({where})" + "".join(f": {text}" for text in (ended, self.message) if text)


@dataclass(frozen=True)
class Rollout:
    """How far the Deployment's latest version got, as ``kubectl rollout status`` tells it."""

    done: bool
    failed: bool
    message: str
    #: the controller has seen the Deployment's latest change (else the rest is about an older one)
    observed: bool = True
    desired: int = 0
    updated: int = 0
    available: int = 0


@dataclass(frozen=True)
class ReadyEndpoint:
    """One ready address of the Service, and the port its app answers on there."""

    address: str
    port: int
    pod: str | None


@dataclass(frozen=True)
class ClusterStatus:
    """The service as the cluster runs it."""

    phase: Phase
    message: str
    rollout: Rollout | None
    problems: tuple[PodProblem, ...] = ()
    #: ready endpoints of the latest version's pods (a wake or an update completes on the first)
    endpoints: tuple[ReadyEndpoint, ...] = ()
    #: restarts of the latest version's containers, as the kubelet counts them
    restarts: int = 0

    @property
    def exit_code(self) -> int | None:
        """The last exit code a failing container reported, if any (the status' ``last_exit_code``)."""
        return next((p.exit_code for p in self.problems if p.exit_code is not None), None)


# ------------------------------------------------------------------------------------ pods
def pod_problems(pod: JSON) -> list[PodProblem]:
    """What keeps ``pod`` from serving for good (an empty list while it is fine or merely starting)."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    if pod["metadata"].get("deletionTimestamp"):
        return []  # going away: its successor's state is what counts
    problems: list[PodProblem] = []
    for condition in status.get("conditions") or ():
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False" \
                and condition.get("reason") == "Unschedulable":
            problems.append(PodProblem(name, "Unschedulable", condition.get("message") or ""))
    if status.get("phase") == "Failed":  # evicted, deadline exceeded: the pod is over
        problems.append(PodProblem(name, status.get("reason") or "Failed", status.get("message") or ""))
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or ():
            problem = _container_problem(name, container)
            if problem is not None:
                problems.append(problem)
    return problems


def _container_problem(pod: str, container: JSON) -> PodProblem | None:
    state, last = container.get("state") or {}, (container.get("lastState") or {}).get("terminated") or {}
    waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
    name = container.get("name")
    if waiting.get("reason") == "CrashLoopBackOff" and last.get("reason") == "OOMKilled":
        return PodProblem(pod, "OOMKilled", f"CrashLoopBackOff: {waiting.get('message') or ''}".rstrip(": "),
                          name, last.get("exitCode"), "OOMKilled")
    if waiting.get("reason") in FAILING_WAITS:
        return PodProblem(pod, waiting["reason"], waiting.get("message") or "", name,
                          last.get("exitCode"), last.get("reason"))
    if terminated.get("reason") == "OOMKilled" or (not state.get("running") and last.get("reason") == "OOMKilled"):
        ended = terminated or last
        return PodProblem(pod, "OOMKilled", ended.get("message") or "", name, ended.get("exitCode"))
    if terminated and terminated.get("exitCode") not in (None, 0) and name == MAIN_CONTAINER:
        return PodProblem(pod, terminated.get("reason") or "Error", terminated.get("message") or "", name,
                          terminated.get("exitCode"))
    return None


def is_ready(pod: JSON) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or ()
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# ------------------------------------------------------------------------------------ rollout
def rollout(deployment: JSON) -> Rollout:
    """The latest version's progress: done when every wanted replica is updated and available and
    no old one is left; failed once the controller reports ``ProgressDeadlineExceeded``, or that
    pods cannot be created (``ReplicaFailure``: admission, quota, a missing PriorityClass)."""
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    desired = spec.get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    counts = {"desired": desired, "updated": updated, "available": available}
    if deployment["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return Rollout(False, False, "waiting for the Deployment controller to see the change", False, **counts)
    conditions = status.get("conditions") or ()
    refused = next((c for c in conditions if c.get("type") == "ReplicaFailure" and c.get("status") == "True"), None)
    if refused is not None:  # its pods cannot even be created: admission, quota, a missing PriorityClass
        message = refused.get("message") or "the ReplicaSet cannot create pods"
        return Rollout(False, True, f"{refused.get('reason') or 'ReplicaFailure'}: {message}", **counts)
    progressing = next((c for c in conditions if c.get("type") == "Progressing"), None)
    if progressing is not None and progressing.get("reason") == "ProgressDeadlineExceeded":
        message = progressing.get("message") or "the rollout exceeded its progress deadline"
        return Rollout(False, True, f"ProgressDeadlineExceeded: {message}", **counts)
    if updated < desired:
        return Rollout(False, False, f"{updated} of {desired} new replicas updated", **counts)
    if status.get("replicas", 0) > updated:
        return Rollout(False, False, f"{status.get('replicas', 0) - updated} old replicas pending termination",
                       **counts)
    if available < updated:
        return Rollout(False, False, f"{available} of {updated} updated replicas available", **counts)
    return Rollout(True, False, f"{available} of {desired} replicas available", **counts)


def current_template_hash(deployment: JSON, replica_sets: Iterable[JSON]) -> str | None:
    """The ``pod-template-hash`` of the Deployment's latest ReplicaSet (its revision is the Deployment's)."""
    revision = (deployment["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION)
    uid = deployment["metadata"].get("uid")
    if revision is None:
        return None
    for rs in replica_sets:
        meta = rs["metadata"]
        owned = any(ref.get("uid") == uid for ref in meta.get("ownerReferences") or ())
        if owned and (meta.get("annotations") or {}).get(REVISION_ANNOTATION) == revision:
            return (meta.get("labels") or {}).get(TEMPLATE_HASH_LABEL)
    return None


# ------------------------------------------------------------------------------------ endpoints
def ready_endpoints(slices: Iterable[JSON], service: str, pods: Mapping[str, JSON] | None = None,
                    template_hash: str | None = None) -> tuple[ReadyEndpoint, ...]:
    """Ready addresses of the Service named ``service`` with the app's port there; with
    ``template_hash``, only those of the latest version's pods (found through ``pods``)."""
    found: list[ReadyEndpoint] = []
    for piece in slices:
        if (piece["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) != service:
            continue
        port = next((p.get("port") for p in piece.get("ports") or () if p.get("name") == MAIN_PORT_NAME), None)
        if port is None:
            continue
        for endpoint in piece.get("endpoints") or ():
            if not (endpoint.get("conditions") or {}).get("ready"):
                continue
            ref = endpoint.get("targetRef") or {}
            pod_name = ref.get("name") if ref.get("kind") == "Pod" else None
            if template_hash is not None:
                pod = (pods or {}).get(pod_name or "")
                if pod is None or (pod["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL) != template_hash:
                    continue
            found.extend(ReadyEndpoint(address, port, pod_name) for address in endpoint.get("addresses") or ())
    return tuple(sorted(found, key=lambda e: (e.pod or "", e.address)))


# ------------------------------------------------------------------------------------ all of it
def cluster_status(deployment: JSON | None, replica_sets: Iterable[JSON], pods: Iterable[JSON],
                   slices: Iterable[JSON], service: str) -> ClusterStatus:
    """The service ``service`` (its Deployment's and Service's name) from what the reflectors hold.

    Ready once the latest version's rollout is done and one of its pods is a ready endpoint of the
    Service; failed when the rollout exceeded its deadline or a pod of the latest version reports a
    problem that will not go away by waiting; starting otherwise. Old pods' problems do not count.
    """
    if deployment is None:
        return ClusterStatus("absent", "no Deployment", None)
    progress = rollout(deployment)
    if progress.desired == 0:
        return ClusterStatus("zero", "scaled to zero (0 replicas)", progress)
    if not progress.observed:  # its latest ReplicaSet may not exist yet: no pod says anything about it
        return ClusterStatus("starting", progress.message, progress)
    uid = deployment["metadata"].get("uid")
    template_hash = current_template_hash(deployment, replica_sets)
    owned_sets = {rs["metadata"]["name"] for rs in replica_sets
                  if any(ref.get("uid") == uid for ref in rs["metadata"].get("ownerReferences") or ())}
    ours = {p["metadata"]["name"]: p for p in pods
            if any(ref.get("name") in owned_sets for ref in p["metadata"].get("ownerReferences") or ())}
    latest = {name: p for name, p in ours.items()
              if template_hash is not None and (p["metadata"].get("labels") or {}).get(TEMPLATE_HASH_LABEL)
              == template_hash}
    problems = tuple(problem for pod in sorted(latest) for problem in pod_problems(latest[pod]))
    endpoints = ready_endpoints(slices, service, latest, template_hash) if template_hash else ()
    restarts = sum(c.get("restartCount", 0) for pod in latest.values()
                   for c in (pod.get("status") or {}).get("containerStatuses") or ())
    if progress.failed:
        detail = "; ".join(p.describe() for p in problems)
        return ClusterStatus("failed", progress.message + (f"; {detail}" if detail else ""), progress, problems,
                             restarts=restarts)
    if problems:
        return ClusterStatus("failed", "; ".join(p.describe() for p in problems), progress, problems, endpoints,
                             restarts)
    if progress.done and endpoints:
        return ClusterStatus("ready", progress.message, progress, (), endpoints, restarts)
    waiting = progress.message if not progress.done else "waiting for a ready endpoint of the Service"
    return ClusterStatus("starting", waiting, progress, (), endpoints, restarts)
