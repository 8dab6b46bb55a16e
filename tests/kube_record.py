"""Record the objects tests/test_kubernetes_status.py reads: ``python tests/kube_record.py KUBECONFIG [CASE...]``.

For each case, a service's Deployment and Service are applied on a real control plane, the played
kubelet (kube_play.py) brings its pods to that state, and what the apiserver then holds (the
Deployment, its ReplicaSets, pods and the Service's EndpointSlices, as a watch would deliver them)
is written to ``tests/data/kubernetes/<case>.json``. Run it again after a Kubernetes upgrade.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from kube_play import PlayedKubelet
from kubernetes_asyncio import client as k8s

from jupyter_svc.backends.base import LaunchContext
from jupyter_svc.backends.kubernetes import KubernetesSettings
from jupyter_svc.backends.kubernetes.cache import ClusterCache
from jupyter_svc.backends.kubernetes.client import api_client
from jupyter_svc.backends.kubernetes.cluster import Cluster
from jupyter_svc.backends.kubernetes.instance import Runtime, apply_spec
from jupyter_svc.model.spec import ServiceSpec

OUT = Path(__file__).parent / "data" / "kubernetes"
kube_play_behaviours = {"ready", "hold", "ImagePullBackOff", "CrashLoopBackOff", "OOMKilled", "Unschedulable"}
#: case -> (behaviour of the first version, of a second version rolled out after it, or None)
CASES: dict[str, tuple[str, str | None]] = {
    "ready": ("ready", None),
    "starting": ("hold", None),
    "image_pull_backoff": ("ImagePullBackOff", None),
    "crash_loop": ("CrashLoopBackOff", None),
    "oom_killed": ("OOMKilled", None),
    "unschedulable": ("Unschedulable", None),
    "rollout_in_progress": ("ready", "hold"),
    "rollout_new_pod_failing": ("ready", "CrashLoopBackOff"),
    "progress_deadline_exceeded": ("ready", "hold-deadline"),
    "scaled_to_zero": ("zero", None),
    "replica_failure": ("no-priority-class", None),
}


def spec(version: str, deadline: float | None = None, priority_class: str | None = None) -> ServiceSpec:
    readiness = {"timeout": deadline} if deadline else {}
    return ServiceSpec.model_validate({"name": "web", "image": f"registry.example/web:{version}",
                                       "command": ["serve", "{port}"], "env": {"VERSION": version},
                                       "readiness": readiness, "priority_class": priority_class})


async def record(kubeconfig: str, case: str, first: str, second: str | None) -> dict[str, Any]:
    api = await api_client(kubeconfig)
    core = k8s.CoreV1Api(api)
    namespace = f"jsvc-rec-{uuid.uuid4().hex[:6]}"
    await core.create_namespace({"metadata": {"name": namespace}})
    kubelet = PlayedKubelet(api, namespace, Path(tempfile.mkdtemp()))
    await kubelet.start()
    settings = KubernetesSettings(namespace=namespace, owner="alice")
    cache = ClusterCache(api, namespace, settings.owner_selector())
    await cache.start(20)
    runtime = Runtime(Cluster(api, namespace), cache, settings, kubelet.resolver, True, None)  # type: ignore[arg-type]
    name, context = settings.object_name("web"), LaunchContext("/svc/web/")
    try:
        kubelet.behaviour["web"] = first if first in kube_play_behaviours else "ready"
        missing_class = "no-such-class" if first == "no-priority-class" else None
        await apply_spec(runtime, spec("1", priority_class=missing_class), context,
                         replicas=0 if first == "zero" else 1)
        await asyncio.sleep(3)
        if second is not None:
            kubelet.behaviour["web"] = "hold" if second == "hold-deadline" else second
            await apply_spec(runtime, spec("2", 1 if second == "hold-deadline" else None), context)
            await asyncio.sleep(4)
        recorded = {"service": name, "deployment": cache.deployment(name),
                    "replica_sets": list(cache.replica_sets.cache.values()), "pods": list(cache.pods.cache.values()),
                    "slices": list(cache.slices.cache.values())}
        print(case, cache.status(name).phase, cache.status(name).message)
        return recorded
    finally:
        await cache.stop()
        await kubelet.stop()
        await core.delete_namespace(namespace)
        await api.close()


async def main(kubeconfig: str, only: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for case, (first, second) in CASES.items():
        if only and case not in only:
            continue
        data = await record(kubeconfig, case, first, second)
        (OUT / f"{case}.json").write_text(json.dumps(_lean(data), indent=1, sort_keys=True) + "\n")


def _lean(value: Any) -> Any:
    """Without managedFields (who wrote which field: most of an object's size, unread here)."""
    if isinstance(value, dict):
        return {k: _lean(v) for k, v in value.items() if k != "managedFields"}
    if isinstance(value, list):
        return [_lean(v) for v in value]
    return value


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
