"""The service's state from the cluster's objects (``backends/kubernetes/status.py``), without a cluster.

The objects are recorded from a real apiserver and its controllers, with the kubelet played
(tests/kube_record.py wrote tests/data/kubernetes/*.json; run it again to refresh them). The same
statuses, written live, are tested through the backend in tests/test_kubernetes_backend.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from jupyter_svc.backends.kubernetes.status import (
    TEMPLATE_HASH_LABEL,
    ClusterStatus,
    cluster_status,
    current_template_hash,
    pod_problems,
    ready_endpoints,
    rollout,
)

DATA = Path(__file__).parent / "data" / "kubernetes"


def recorded(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{case}.json").read_text())
    return data


def status_of(data: dict[str, Any]) -> ClusterStatus:
    return cluster_status(data["deployment"], data["replica_sets"], data["pods"], data["slices"], data["service"])


@pytest.mark.parametrize(("case", "phase", "says"), [
    ("ready", "ready", r"^1 of 1 replicas available$"),
    ("starting", "starting", r"^0 of 1 updated replicas available$"),
    ("image_pull_backoff", "failed",
     r"^ImagePullBackOff \(pod svc-web-\w+-\w+-\w+, container app\): "
     r"Back-off pulling image \"registry.example/web:1\"$"),
    ("crash_loop", "failed", r"^CrashLoopBackOff \(pod [-\w]+, container app\): exited with code 3 \(Error\): "
                             r"back-off 20s restarting failed container=app pod=[-\w]+$"),
    ("oom_killed", "failed",
     r"^OOMKilled \(pod [-\w]+, container app\): exited with code 137: CrashLoopBackOff: back-off"),
    ("unschedulable", "failed", r"^Unschedulable \(pod [-\w]+\): 0/1 nodes are available: 1 Insufficient "
                                r"nvidia.com/gpu\. preemption:"),
    ("rollout_in_progress", "starting", r"^1 old replicas pending termination$"),
    ("rollout_new_pod_failing", "failed",
     r"^CrashLoopBackOff \(pod [-\w]+, container app\): exited with code 3 \(Error\)"),
    ("progress_deadline_exceeded", "failed",
     r"^ProgressDeadlineExceeded: ReplicaSet \"svc-web-[-\w]+\" has timed out progressing\.$"),
    ("scaled_to_zero", "zero", r"^scaled to zero \(0 replicas\)$"),
    ("replica_failure", "failed", r"^FailedCreate: pods \"svc-web-[-\w]+\" is forbidden: no PriorityClass with name "
                                  r"no-such-class was found$"),
])
def test_recorded_states(case: str, phase: str, says: str) -> None:
    status = status_of(recorded(case))
    assert status.phase == phase
    assert re.search(says, status.message), status.message


def test_ready_names_the_latest_pods_endpoint() -> None:
    data = recorded("ready")
    status = status_of(data)
    (pod,) = data["pods"]
    (endpoint,) = status.endpoints
    assert (endpoint.address, endpoint.port, endpoint.pod) == (pod["status"]["podIP"], 8080, pod["metadata"]["name"])


def test_during_a_rollout_the_old_pods_endpoint_is_not_the_new_versions() -> None:
    """The old version's ready pod is an endpoint of the Service, but not of the latest version:
    an update is not done until a new pod is."""
    data = recorded("rollout_in_progress")
    everything = ready_endpoints(data["slices"], data["service"])
    assert len(everything) == 1
    assert status_of(data).endpoints == ()
    latest = current_template_hash(data["deployment"], data["replica_sets"])
    (old,) = [p for p in data["pods"] if p["metadata"]["labels"][TEMPLATE_HASH_LABEL] != latest]
    assert everything[0].pod == old["metadata"]["name"]


def test_the_crash_code_and_reason_are_kept() -> None:
    status = status_of(recorded("crash_loop"))
    (problem,) = status.problems
    assert (problem.reason, problem.last_reason, problem.exit_code, problem.container) == \
        ("CrashLoopBackOff", "Error", 3, "app")
    assert status.exit_code == 3


def test_a_change_the_controller_has_not_seen_is_starting_whatever_the_pods_say() -> None:
    """Right after a write, the Deployment's generation is ahead of what the controller observed:
    its pods belong to the previous version, so their problems say nothing about the new one."""
    data = recorded("crash_loop")
    data["deployment"]["metadata"]["generation"] += 1
    status = status_of(data)
    assert status.phase == "starting"
    assert status.message == "waiting for the Deployment controller to see the change"
    assert not rollout(data["deployment"]).observed


def test_a_failing_pod_of_an_old_version_does_not_count() -> None:
    """The latest version is ready; a pod left over from an older ReplicaSet crash-loops: ready."""
    data, crashing = recorded("ready"), recorded("crash_loop")
    (pod,) = copy.deepcopy(crashing["pods"])
    pod["metadata"]["labels"][TEMPLATE_HASH_LABEL] = "older"
    pod["metadata"]["name"] += "-old"
    owner = data["replica_sets"][0]["metadata"]["name"]
    pod["metadata"]["ownerReferences"][0]["name"] = owner  # owned through the same Deployment
    data["pods"].append(pod)
    assert status_of(data).phase == "ready"


def test_a_pod_being_deleted_reports_nothing() -> None:
    (pod,) = recorded("crash_loop")["pods"]
    assert pod_problems(pod)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert pod_problems(pod) == []


def test_an_oom_kill_while_terminated_and_an_init_failure() -> None:
    """A container terminated by the OOM killer right now, and an init step that cannot pull its image."""
    (pod,) = recorded("starting")["pods"]
    pod["status"]["containerStatuses"][0]["state"] = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    pod["status"]["initContainerStatuses"] = [{"name": "fetch", "state": {"waiting": {
        "reason": "ErrImagePull", "message": "rpc error: not found"}}}]
    problems = pod_problems(pod)
    assert [(p.reason, p.container, p.exit_code) for p in problems] == [
        ("ErrImagePull", "fetch", None), ("OOMKilled", "app", 137)]


def test_no_deployment_is_absent() -> None:
    assert cluster_status(None, [], [], [], "svc-x").phase == "absent"
