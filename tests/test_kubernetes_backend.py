"""The Kubernetes backend on a real control plane (``$JUPYTER_SVC_TEST_KUBECONFIG``; skipped, saying
so, without it), each test in its own namespace.

The tests play the kubelet (tests/kube_play.py): they bind the pods, write their statuses, run a
loopback app behind each ready pod, and serve pod logs to the apiserver on loopback. The backend
reaches the apps only through its endpoint resolver seam, set to the played kubelet's (pod ->
loopback app) with ``loopback_only``: nothing connects to a pod or cluster address.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import kubernetes_validate
import pytest
import yaml
from conftest import wait_for_state
from kube_play import ENDPOINTS_FILE_VAR, PlayedKubelet
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException
from test_kubernetes_objects import K8S_SCHEMA_VERSION
from test_kubernetes_reflector import PrivatePlane, admin_kubeconfig, connected, fresh_namespace, private_plane
from yarl import URL

from jupyter_svc.backends.base import Endpoint, LaunchContext, NotReady, ReadyCheck, ServerInfo
from jupyter_svc.backends.kubernetes import KubernetesSettings, build_deployment, build_service
from jupyter_svc.backends.kubernetes.backend import KubernetesBackend
from jupyter_svc.backends.kubernetes.cluster import Cluster
from jupyter_svc.backends.kubernetes.instance import KubernetesInstance
from jupyter_svc.backends.kubernetes.reflector import DEPLOYMENTS, Reflector
from jupyter_svc.backends.kubernetes.resolver import EndpointQuery
from jupyter_svc.model.errors import SvcError
from jupyter_svc.model.spec import Readiness, ServiceSpec

BASE = "/user/alice/svc/"
__all__ = ["private_plane"]  # the fixture (a control plane of this module's own), imported for pytest


@pytest.fixture
def namespace() -> Iterator[str]:
    with fresh_namespace("jsvc-be") as name:
        yield name


@dataclass
class Harness:
    api: k8s.ApiClient
    namespace: str
    kubelet: PlayedKubelet
    backend: KubernetesBackend
    tmp: Path
    applied: list[dict[str, Any]] = field(default_factory=list)  # every object the backend applied

    @property
    def apps(self) -> k8s.AppsV1Api:
        return k8s.AppsV1Api(self.api)

    async def kubelet_wait(self, condition: Any, timeout: float = 20.0) -> None:
        """Until ``condition()`` holds (what the played kubelet has seen and done)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "timed out"
            await asyncio.sleep(0.05)

    def new_backend(self, **options: Any) -> KubernetesBackend:
        return make_backend(self.namespace, self.tmp, self.kubelet, **options)


def make_backend(namespace: str, tmp: Path, kubelet: PlayedKubelet, **options: Any) -> KubernetesBackend:
    server = ServerInfo(state_dir=tmp / "state", runtime_dir=tmp / "run", readiness_timeout=20.0, user="alice")
    config = {"namespace": namespace, "kubeconfig": str(admin_kubeconfig()), "endpoint_resolver": kubelet.resolver,
              "loopback_only": True, "watch_timeout": 30, **options}
    return KubernetesBackend(server, **config)


@contextlib.asynccontextmanager
async def harness(namespace: str, tmp: Path, kubeconfig: Path | None = None, **options: Any) -> AsyncIterator[Harness]:
    """A played kubelet and a backend (its resolver: the kubelet's, loopback_only) on the cluster
    ``kubeconfig`` names (the suite's by default)."""
    if kubeconfig is not None:
        options["kubeconfig"] = str(kubeconfig)
    async with connected(kubeconfig or admin_kubeconfig()) as api:
        kubelet = PlayedKubelet(api, namespace, tmp)
        await kubelet.start()
        backend = make_backend(namespace, tmp, kubelet, **options)
        h = Harness(api, namespace, kubelet, backend, tmp)
        runtime = await backend.runtime()
        apply = runtime.cluster.apply

        async def recorded(obj: dict[str, Any], dry_run: bool = False) -> dict[str, Any]:
            h.applied.append(copy.deepcopy(obj))  # a spy: the real apply follows
            return await apply(obj, dry_run)

        runtime.cluster.apply = recorded  # type: ignore[method-assign]
        try:
            yield h
        finally:
            await backend.close()
            await kubelet.stop()


def spec(name: str = "web", version: str = "1", **fields: Any) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": name, "image": f"registry.example/{name}:{version}",
                                       "command": ["serve", "--port", "{port}"], "env": {"VERSION": version},
                                       **fields})


def context(name: str = "web") -> LaunchContext:
    return LaunchContext(base_url=f"{BASE}{name}/")


async def _no_http(endpoint: Endpoint, path: str) -> int | None:
    raise AssertionError("the kubernetes backend never probes over HTTP: readiness is the EndpointSlice's")


def check(timeout: float = 20.0) -> ReadyCheck:
    return ReadyCheck(Readiness(), timeout, _no_http)


async def get(endpoint: Endpoint, path: str = "/") -> dict[str, Any]:
    assert endpoint.host == "127.0.0.1", endpoint
    async with aiohttp.ClientSession() as session, session.get(f"{endpoint.base}{path}") as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer


async def ready_instance(h: Harness, service: ServiceSpec) -> KubernetesInstance:
    instance = await h.backend.start(service, context(service.name))
    assert isinstance(instance, KubernetesInstance)
    await instance.wait_ready(check())
    return instance


# ------------------------------------------------------------------------------------------------ tests
async def test_start_ready_only_once_the_endpoint_slice_has_a_ready_endpoint(namespace: str, tmp_path: Path) -> None:
    """start applies the Deployment and the Service (accepted by the real apiserver); wait_ready
    returns only after the played kubelet marks the pod ready and the EndpointSlice controller
    lists it; the endpoint is the seam's answer for that pod, and its app answers."""
    async with harness(namespace, tmp_path) as h:
        h.kubelet.behaviour["web"] = "hold"
        instance = await h.backend.start(spec(), context())
        waiting = asyncio.ensure_future(instance.wait_ready(check()))
        await asyncio.sleep(1.5)
        assert not waiting.done(), "ready before any endpoint was"
        assert h.kubelet.started.get("web") == 1
        await h.kubelet.release("web")
        await asyncio.wait_for(waiting, 20)
        answer = await get(instance.endpoint, "/hello")
        assert answer["version"] == "1" and answer["path"] == "/hello" and answer["base_url"] == f"{BASE}web/"
        (query,) = [q for q in h.kubelet.resolved if q.service == "web"]
        assert query.pod == answer["pod"] and query.port == 8080 and query.namespace == namespace
        assert query.dns_name == f"{query.object_name}.{namespace}.svc.cluster.local"
        assert query.cluster_ip.startswith("10.")  # known, never connected to
        assert instance.state() == {"namespace": namespace, "deployment": query.object_name,
                                    "uid": (await h.apps.read_namespaced_deployment(query.object_name,
                                                                                    namespace)).metadata.uid}
        assert await instance.poll() is None


async def test_a_resolver_answer_off_loopback_is_refused(namespace: str, tmp_path: Path) -> None:
    """With loopback_only, a resolver that answers a pod or cluster address fails the start loudly
    (NotReady naming the address); nothing connects to it."""
    def to_the_pod(query: EndpointQuery) -> tuple[str, int]:
        return query.address, query.port

    async with harness(namespace, tmp_path) as h:
        backend = h.new_backend(endpoint_resolver=to_the_pod)
        try:
            instance = await backend.start(spec(), context())
            with pytest.raises(NotReady, match=r"answered 10\.244\.\d+\.\d+:8080 .*loopback_only refuses"):
                await instance.wait_ready(check())
        finally:
            await backend.close()


async def test_update_rolls_out_and_the_old_pod_serves_until_the_new_one_is_ready(namespace: str,
                                                                                  tmp_path: Path) -> None:
    """An update is a rollout of the same Deployment: a new ReplicaSet whose pod, held not ready by the
    played kubelet, leaves the old pod serving (requests through the instance's endpoint reach
    version 1); once it is ready the endpoint moves to it (version 2) and the old pod goes."""
    async with harness(namespace, tmp_path) as h:
        instance = await ready_instance(h, spec())
        name = instance.name
        old_pod = (await get(instance.endpoint))["pod"]
        h.kubelet.behaviour["web"] = "hold"
        rolling = asyncio.ensure_future(instance.roll_out(spec(version="2"), context(), check()))
        await h.kubelet_wait(lambda: h.kubelet.started.get("web") == 2)
        sets = (await h.apps.list_namespaced_replica_set(namespace)).items
        assert len([rs for rs in sets if rs.metadata.owner_references[0].name == name]) == 2
        for _ in range(5):
            assert (await get(instance.endpoint)) == {**(await get(instance.endpoint)), "version": "1",
                                                      "pod": old_pod}
            await asyncio.sleep(0.2)
        assert not rolling.done()
        await h.kubelet.release("web")
        await asyncio.wait_for(rolling, 20)
        answer = await get(instance.endpoint)
        assert answer["version"] == "2" and answer["pod"] != old_pod
        assert instance.spec.env["VERSION"] == "2"
        await h.kubelet_wait(lambda: old_pod not in h.kubelet.apps)  # the old ReplicaSet scaled down


async def test_a_failed_rollout_is_rolled_back_and_reported(namespace: str, tmp_path: Path) -> None:
    """The new version's pod cannot pull its image: roll_out raises saying so and that the previous
    version was restored; the Deployment's template is version 1 again and its pod kept serving."""
    async with harness(namespace, tmp_path) as h:
        instance = await ready_instance(h, spec())
        old_pod = (await get(instance.endpoint))["pod"]
        h.kubelet.behaviour["web"] = "ImagePullBackOff"
        with pytest.raises(SvcError, match=r"rollout of web failed, the previous version was restored: .*"
                                           r"ImagePullBackOff .*Back-off pulling image \"registry.example/web:2\""):
            await instance.roll_out(spec(version="2"), context(), check())
        deployment = await h.apps.read_namespaced_deployment(instance.name, namespace)
        assert deployment.spec.template.spec.containers[0].image == "registry.example/web:1"
        assert instance.spec.env["VERSION"] == "1"
        assert (await get(instance.endpoint)) == {**(await get(instance.endpoint)), "pod": old_pod, "version": "1"}
        assert instance.status().phase == "ready"
        kinds = [(obj["kind"], obj["spec"]["template"]["spec"]["containers"][0]["image"] if obj["kind"] ==
                  "Deployment" else "") for obj in h.applied]
        assert kinds == [("Deployment", "registry.example/web:1"), ("Service", ""),
                         ("Deployment", "registry.example/web:2"), ("Service", ""),
                         ("Deployment", "registry.example/web:1"), ("Service", "")]
        for obj in h.applied:  # what the backend sends is valid for the official schemas too
            assert kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True) == K8S_SCHEMA_VERSION


async def test_restart_is_a_rollout_restart(namespace: str, tmp_path: Path) -> None:
    """roll_out with the same spec: kubectl's restartedAt annotation on the pod template, so a new
    pod replaces the old one (new first); the same spec, another pod serving."""
    async with harness(namespace, tmp_path) as h:
        instance = await ready_instance(h, spec())
        old_pod = (await get(instance.endpoint))["pod"]
        await instance.roll_out(spec(), context(), check())
        deployment = await h.apps.read_namespaced_deployment(instance.name, namespace)
        assert "kubectl.kubernetes.io/restartedAt" in deployment.spec.template.metadata.annotations
        answer = await get(instance.endpoint)
        assert answer["pod"] != old_pod and answer["version"] == "1"


async def test_stop_is_zero_replicas_and_a_start_wakes_it(namespace: str, tmp_path: Path) -> None:
    """stop scales the Deployment to 0 through the scale subresource (the objects stay, the pod
    goes); start again is one write that brings it back; wait() returns once stopped."""
    async with harness(namespace, tmp_path) as h:
        instance = await ready_instance(h, spec())
        waiting = asyncio.ensure_future(instance.wait())
        assert await instance.stop(5) == 0
        assert await asyncio.wait_for(waiting, 10) == 0
        scale = await h.apps.read_namespaced_deployment_scale(instance.name, namespace)
        assert not scale.spec.replicas  # 0 is left out of the JSON
        await h.kubelet_wait(lambda: not h.kubelet.apps)
        again = await ready_instance(h, spec())
        assert (await get(again.endpoint))["version"] == "1"
        assert h.kubelet.started["web"] == 2


@pytest.mark.parametrize(("behaviour", "says"), [
    ("ImagePullBackOff", r"ImagePullBackOff \(pod [-\w]+, container app\): Back-off pulling image "
                         r"\"registry.example/web:1\""),
    ("CrashLoopBackOff", r"CrashLoopBackOff \(pod [-\w]+, container app\): exited with code 3 \(Error\): "
                         r"back-off 20s restarting failed container=app"),
    ("OOMKilled", r"OOMKilled \(pod [-\w]+, container app\): exited with code 137: CrashLoopBackOff: back-off 10s"),
    ("Unschedulable", r"Unschedulable \(pod [-\w]+\): 0/1 nodes are available: 1 Insufficient nvidia.com/gpu"),
])
async def test_pod_failures_fail_the_start_with_the_kubelets_reason(namespace: str, tmp_path: Path,
                                                                     behaviour: str, says: str) -> None:
    """What the kubelet or the scheduler writes into the pod's status fails the start at once (not
    after the timeout), in its words; a crash quotes the pod's last log lines (pods/log through
    the apiserver, served by the played kubelet)."""
    async with harness(namespace, tmp_path) as h:
        h.kubelet.behaviour["web"] = behaviour
        instance = await h.backend.start(spec(), context())
        started = asyncio.get_running_loop().time()
        with pytest.raises(NotReady, match=says):
            await instance.wait_ready(check(timeout=60))
        assert asyncio.get_running_loop().time() - started < 30


# ------------------------------------------------------------------------------------------------ a real server
@pytest.fixture
def jp_server_config(svc_state_dir: Path, namespace: str) -> dict[str, Any]:
    """A Jupyter server whose default backend is the cluster's, reaching apps through the played
    kubelet's resolver (kube_play:resolve) with loopback_only."""
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_svc": True}},
        "SvcExtension": {"state_dir": str(svc_state_dir), "default_backend": "kubernetes",
                         "readiness_timeout": 30.0, "stop_grace": 3.0, "idle_check_interval": 0.2,
                         "restart_backoff_initial": 0.1, "restart_backoff_max": 0.5},
        "KubernetesBackend": {"namespace": namespace, "kubeconfig": str(admin_kubeconfig()), "owner": "alice",
                              "endpoint_resolver": "kube_play:resolve", "loopback_only": True, "watch_timeout": 30},
    }


@contextlib.asynccontextmanager
async def played(namespace: str, tmp: Path) -> AsyncIterator[PlayedKubelet]:
    async with connected(admin_kubeconfig()) as api:
        kubelet = PlayedKubelet(api, namespace, tmp)
        await kubelet.start()
        try:
            yield kubelet
        finally:
            await kubelet.stop()


async def through_proxy(jp_fetch: Any, name: str, path: str = "hello") -> dict[str, Any]:
    response = await jp_fetch("svc", name, path, raise_error=False)
    assert response.code == 200, (response.code, response.body[:500])
    answer: dict[str, Any] = json.loads(response.body)
    return answer


def spec_json(name: str = "web", version: str = "1", **fields: Any) -> dict[str, Any]:
    return spec(name, version, **fields).model_dump(mode="json", exclude_defaults=True)


SIDECAR = {"sidecars": [{"name": "proxy", "image": "registry.example/proxy:1"}]}


async def owned_objects(api: k8s.ApiClient, namespace: str) -> dict[str, list[str]]:
    """Every object in the namespace with this server's labels, by kind (pods included)."""
    selector = "app.kubernetes.io/managed-by=jupyter-svc,jupyter-svc/owner=alice"
    apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
    found = {"Deployment": await apps.list_namespaced_deployment(namespace, label_selector=selector),
             "ReplicaSet": await apps.list_namespaced_replica_set(namespace, label_selector=selector),
             "Service": await core.list_namespaced_service(namespace, label_selector=selector),
             "Pod": await core.list_namespaced_pod(namespace, label_selector=selector)}
    return {kind: sorted(o.metadata.name for o in listing.items) for kind, listing in found.items()}


async def test_through_a_jupyter_server(api: Any, jp_fetch: Any, namespace: str, tmp_path: Path) -> None:
    """The REST API and the proxy with ``default_backend = "kubernetes"``: create -> ready once the
    EndpointSlice is; a request through /svc/web/ answered by the pod's app; an update rolls out
    (the old pod answers meanwhile); a failed update is rolled back and reported; a restart is a
    rollout restart; logs come from pods/log; delete removes every owned object."""
    async with played(namespace, tmp_path) as kubelet, connected(admin_kubeconfig()) as kube:
        code, view = await api("POST", "services", spec_json(**SIDECAR), wait=30)
        assert code == 201 and view["status"]["state"] == "ready", view
        assert view["status"]["backend"] == "kubernetes" and view["status"]["endpoint"].startswith("http://127.0.0.1:")
        first = await through_proxy(jp_fetch, "web")
        assert first["version"] == "1" and first["base_url"].endswith("/svc/web/")

        kubelet.behaviour["web"] = "hold"
        update = asyncio.ensure_future(api("PUT", "services/web", spec_json(version="2", **SIDECAR), wait=30))
        await wait_until(lambda: kubelet.started.get("web") == 2)
        for _ in range(3):
            assert await through_proxy(jp_fetch, "web") == first
        assert not update.done()
        await kubelet.release("web")
        code, view = await update
        assert code == 200 and view["status"]["state"] == "ready", view
        second = await through_proxy(jp_fetch, "web")
        assert second["version"] == "2" and second["pod"] != first["pod"]

        kubelet.behaviour["web"] = "ImagePullBackOff"
        code, body = await api("PUT", "services/web", spec_json(version="3", **SIDECAR), wait=30)
        assert code == 503 and "ImagePullBackOff" in body["message"] and "restored" in body["message"], body
        code, view = await api("GET", "services/web")
        assert view["status"]["state"] == "ready" and view["spec"]["env"]["VERSION"] == "2"
        assert "update failed" in view["status"]["message"] and "ImagePullBackOff" in view["status"]["message"]
        assert await through_proxy(jp_fetch, "web") == second

        kubelet.behaviour["web"] = "ready"
        code, view = await api("POST", "services/web/restart", wait=30)
        assert code == 200 and view["status"]["state"] == "ready", view
        third = await through_proxy(jp_fetch, "web")
        assert third["version"] == "2" and third["pod"] != second["pod"]
        deployment = await k8s.AppsV1Api(kube).read_namespaced_deployment(
            (await owned_objects(kube, namespace))["Deployment"][0], namespace)
        assert "kubectl.kubernetes.io/restartedAt" in deployment.spec.template.metadata.annotations

        code, text = await api("GET", "services/web/logs", tail=5)
        assert code == 200 and f"[app] {third['pod']} listening on :8080" in text, text
        code, text = await api("GET", "services/web/logs", tail=1, container="proxy")  # the sidecar's
        assert code == 200 and text == "[proxy] version 2\n", text
        code, body = await api("GET", "services/web/logs", tail=1, container="nope")
        assert code == 422 and body["errors"] == [{"field": "container", "message": (
            "'nope' is not a container of web's pods: app, proxy")}], body

        assert (await owned_objects(kube, namespace))["Deployment"]
        code, _ = await api("DELETE", "services/web")
        assert code == 204
        await wait_until_async(lambda: owned_objects(kube, namespace),
                               lambda found: not any(found.values()), timeout=30)
        assert not kubelet.apps


async def wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def wait_until_async(read: Any, condition: Any, timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await read()
        if condition(found):
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out; last: {found}"
        await asyncio.sleep(0.2)


async def test_idle_to_zero_replicas_then_50_held_requests_wake_it_once(
        api: Any, jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str], namespace: str,
        tmp_path: Path) -> None:
    """Past the idle window the Deployment goes to 0 replicas (scale subresource) and the service to
    scaled_to_zero. 50 concurrent requests then make one scale-up (one 0 -> 1 change of the
    Deployment, one new pod), are all held while the pod is Running but not ready, and are all
    answered by it once the played kubelet marks it ready and the EndpointSlice lists it."""
    async with played(namespace, tmp_path) as kubelet, connected(admin_kubeconfig()) as kube:
        code, view = await api("POST", "services", spec_json(scale_to_zero="1s"), wait=30)
        assert code == 201 and view["status"]["state"] == "ready", view
        name = (await owned_objects(kube, namespace))["Deployment"][0]
        replicas: list[int] = []
        watch = Reflector(kube, DEPLOYMENTS, namespace)
        watch.on_change(lambda kind, obj: replicas.append((obj.get("spec") or {}).get("replicas", 0)))
        watch.start()
        try:
            view = await wait_for_state(api, "web", {"scaled_to_zero"}, timeout=30)
            scale = await k8s.AppsV1Api(kube).read_namespaced_deployment_scale(name, namespace)
            assert not scale.spec.replicas  # 0: left out of the JSON
            await wait_until(lambda: not kubelet.apps)  # the pod went

            kubelet.behaviour["web"] = "hold"
            url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}svc/web/"
            async with aiohttp.ClientSession(headers=jp_auth_header,
                                             connector=aiohttp.TCPConnector(limit=100)) as session:
                async def one(i: int) -> tuple[int, dict[str, Any]]:
                    async with session.get(URL(f"{url}r{i}", encoded=True)) as response:  # base URL as is
                        return response.status, await response.json(content_type=None)

                requests = [asyncio.ensure_future(one(i)) for i in range(50)]
                await wait_until(lambda: kubelet.started.get("web") == 2)
                await asyncio.sleep(1.0)  # Running, not ready: nothing may be released
                assert not any(r.done() for r in requests)
                _, view = await api("GET", "services/web")
                assert view["status"]["state"] == "waking"
                await kubelet.release("web")
                responses = await asyncio.wait_for(asyncio.gather(*requests), 30)
        finally:
            await watch.stop()
        assert [code for code, _ in responses] == [200] * 50
        pods = {answer["pod"] for _, answer in responses}
        assert len(pods) == 1 and pods <= set(kubelet.apps)
        assert sorted(answer["path"] for _, answer in responses) == sorted(f"/r{i}" for i in range(50))
        rises = [b for a, b in itertools.pairwise(replicas) if a == 0 and b > 0]
        assert rises == [1], replicas
        assert kubelet.started["web"] == 2


FAILURES = {
    "pull": ("ImagePullBackOff", r"ImagePullBackOff \(pod [-\w]+, container app\): Back-off pulling image"),
    "crash": ("CrashLoopBackOff",
              r"CrashLoopBackOff \(pod [-\w]+, container app\): exited with code 3 \(Error\)"),
    "oom": ("OOMKilled", r"OOMKilled \(pod [-\w]+, container app\): exited with code 137"),
    "sched": ("Unschedulable", r"Unschedulable \(pod [-\w]+\): 0/1 nodes are available: 1 Insufficient nvidia.com/gpu"),
}


async def test_pod_failures_surface_in_the_status_and_in_svc_list(api: Any, namespace: str, tmp_path: Path) -> None:
    """What the played kubelet writes (image pull back-off, crash loop, OOM kill) and the scheduler's
    Unschedulable fail each service with the pod's own reason, in the REST status (what the panel
    shows) and in ``%svc list`` (text and HTML); a crash quotes the pod's log lines. Then a service
    that was ready and starts crash-looping (its backend restarts it) turns failed the same way."""
    from jupyter_svc.model.status import ServiceView
    from jupyter_svc.notebook.display import ServiceTable

    async with played(namespace, tmp_path) as kubelet:
        for name, (behaviour, _) in FAILURES.items():
            kubelet.behaviour[name] = behaviour
            code, view = await api("POST", "services", spec_json(name))
            assert code == 201, view
        views = {name: await wait_for_state(api, name, {"failed"}, timeout=30) for name in FAILURES}
        for name, (_, says) in FAILURES.items():
            assert re.search(says, views[name]["status"]["message"]), views[name]["status"]
        for name, last in (("crash", "RuntimeError: boom"), ("oom", "MemoryError")):  # the pod's logs, once
            message = views[name]["status"]["message"]
            assert message.count("\nlast log lines:\n") == 1 and message.endswith(f"\n[app] {last}"), message
        table = ServiceTable([ServiceView.model_validate(v) for v in views.values()], lambda v: v.status.url)
        text, markup = repr(table), table._repr_html_()
        for name, (behaviour, _) in FAILURES.items():
            (row,) = [line for line in text.splitlines() if line.startswith(name + " ")]
            assert "failed" in row and f"⚠ {name} failed to start: {behaviour} (pod svc-{name}-" in row, row
            assert html.escape(views[name]["status"]["message"], quote=True) in markup

        code, view = await api("POST", "services", spec_json("later"), wait=30)
        assert view["status"]["state"] == "ready", view
        (pod,) = [app.pod for app in kubelet.apps.values() if app.pod.startswith("svc-later-")]
        await kubelet.crash(pod)
        view = await wait_for_state(api, "later", {"failed"}, timeout=30)
        message = view["status"]["message"]
        assert "is failing (CrashLoopBackOff: CrashLoopBackOff" in message, message
        assert "exited with code 3 (Error)" in message, message
        assert f"last log lines:\n[app] {pod} listening on :8080" in message, message
        assert message.endswith("[app] RuntimeError: boom") and message.count("last log lines") == 1, message


async def test_a_restarted_server_adopts_its_pods_and_removes_an_orphan(
        api: Any, svc_started: Any, svc_state_dir: Path, namespace: str, tmp_path: Path) -> None:
    """The server stops; its Deployment keeps running (objects outlive the server). A second server
    on the same state folder (another process) adopts it by label: no write, no pod restarted, no
    second ReplicaSet, and its proxy reaches the same pod. Objects with this server's labels and no
    stored spec (a service deleted while the server was down) are removed."""
    async with played(namespace, tmp_path) as kubelet, connected(admin_kubeconfig()) as kube:
        code, view = await api("POST", "services", spec_json(), wait=30)
        assert code == 201 and view["status"]["state"] == "ready", view
        (pod,) = kubelet.apps
        before = await owned_objects(kube, namespace)

        settings = KubernetesSettings(namespace=namespace, owner="alice")
        orphan = spec("ghost")
        made = await Cluster(kube, namespace).apply(build_deployment(orphan, settings, f"{BASE}ghost/"))
        await Cluster(kube, namespace).apply(build_service(orphan, settings, made["metadata"]["uid"]))

        for extension in svc_started.extension_manager.extension_apps["jupyter_svc"]:
            await extension.stop_extension()  # leaves the cluster's instances running
        deployment = await k8s.AppsV1Api(kube).read_namespaced_deployment(before["Deployment"][0], namespace)
        assert deployment.spec.replicas == 1
        generation = deployment.metadata.generation

        config = tmp_path / "second" / "jupyter_server_config.json"
        config.parent.mkdir()
        config.write_text(json.dumps({
            "ServerApp": {"jpserver_extensions": {"jupyter_svc": True}},
            "SvcExtension": {"state_dir": str(svc_state_dir), "default_backend": "kubernetes"},
            "KubernetesBackend": {"namespace": namespace, "kubeconfig": str(admin_kubeconfig()), "owner": "alice",
                                  "endpoint_resolver": "kube_play:resolve", "loopback_only": True}}))
        port, token = free_port(), "adopt-token"
        env = {**os.environ, "JUPYTER_PLATFORM_DIRS": "1", ENDPOINTS_FILE_VAR: str(kubelet.endpoints_file),
               "JUPYTER_CONFIG_DIR": str(config.parent),
               "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
             "--allow-root", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        try:
            headers = {"Authorization": f"token {token}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                async def view_of(name: str) -> dict[str, Any] | None:
                    assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/svc/api/services/{name}") as response:
                            found: dict[str, Any] = await response.json()
                            return found if response.status == 200 else None
                    except aiohttp.ClientError:
                        return None

                view = await wait_until_async(lambda: view_of("web"), lambda v: v is not None and (
                    v["status"]["state"], v["status"]["message"]) == ("ready", "adopted after a server restart"), 60)
                # (the stored status reads "ready" until the adoption settles: wait for what it says then)
                async with session.get(f"http://127.0.0.1:{port}/svc/web/again") as response:
                    assert response.status == 200
                    assert (await response.json())["pod"] == pod
            after = await wait_until_async(lambda: owned_objects(kube, namespace),
                                           lambda found: found["Deployment"] == before["Deployment"], 30)
            assert after == before, "the orphan's objects are gone; nothing of web was made again"
            assert list(kubelet.apps) == [pod] and kubelet.started == {"web": 1, "ghost": 1}
            deployment = await k8s.AppsV1Api(kube).read_namespaced_deployment(before["Deployment"][0], namespace)
            assert deployment.metadata.generation == generation  # adopted as it was: not written
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
        assert list(kubelet.apps) == [pod], "the pod outlives the server's shutdown"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_service_account_bound_only_to_the_shipped_role_runs_the_backend(namespace: str,
                                                                                   tmp_path: Path) -> None:
    """``jupyter svc rbac --namespace NS --service-account jupyter`` applied by the admin, a token for
    that ServiceAccount (TokenRequest), and a kubeconfig with only that token: the backend starts a
    service owned by the server's pod, rolls it out, restarts it, reads logs (tail and follow, the
    app's and a sidecar's), scales it to zero, removes an orphan and deletes; the same token may not
    read Secrets (the check can fail)."""
    from jupyter_svc.cli import rbac_text

    async with harness(namespace, tmp_path) as h:
        core = k8s.CoreV1Api(h.api)
        await core.create_namespaced_service_account(namespace, {"metadata": {"name": "jupyter"}})
        role, binding = yaml.safe_load_all(rbac_text(namespace, "jupyter"))
        rbac = k8s.RbacAuthorizationV1Api(h.api)
        await rbac.create_namespaced_role(namespace, role)
        await rbac.create_namespaced_role_binding(namespace, binding)
        server_pod = await core.create_namespaced_pod(namespace, {"metadata": {"name": "jupyter-server"}, "spec": {
            "containers": [{"name": "notebook", "image": "quay.io/jupyter/base-notebook"}]}})
        h.kubelet.behaviour[""] = "Unschedulable"  # the server's own pod is not this test's concern
        token = (await core.create_namespaced_service_account_token("jupyter", namespace, {
            "spec": {"expirationSeconds": 3600}})).status.token
        admin = yaml.safe_load(admin_kubeconfig().read_text())
        cluster = admin["clusters"][0]["cluster"]
        sa_config = tmp_path / "jupyter.kubeconfig"
        sa_config.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "sa",
            "clusters": [{"name": "c", "cluster": cluster}], "users": [{"name": "jupyter", "user": {"token": token}}],
            "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "jupyter", "namespace": namespace}}]}))

        backend = h.new_backend(kubeconfig=str(sa_config), owner_pod="jupyter-server")
        try:
            await wait_until_async(lambda: _allowed(backend), bool, 10)  # the authorizer sees the binding
            service = spec(sidecars=[{"name": "proxy", "image": "registry.example/proxy:1"}])
            instance = await backend.start(service, context())
            await instance.wait_ready(check())
            assert (await get(instance.endpoint))["version"] == "1"
            deployment = await h.apps.read_namespaced_deployment(instance.name, namespace)
            assert [(o.kind, o.uid) for o in deployment.metadata.owner_references] == \
                [("Pod", server_pod.metadata.uid)]
            await instance.roll_out(spec(version="2", sidecars=service.sidecars), context(), check())
            await instance.roll_out(instance.spec, context(), check())  # rollout restart
            pod = (await get(instance.endpoint))["pod"]
            assert await backend.log_tail("web", 1) == ["[app] version 2"]
            assert await backend.log_tail("web", 5, container="proxy") == [
                f"[proxy] {pod} listening on :8080", "[proxy] version 2"]
            followed = [line async for line in backend.follow_logs("web", container="proxy")]
            assert followed == [f"[proxy] followed {i}" for i in range(3)]
            await instance.stop(5)
            assert not (await h.apps.read_namespaced_deployment_scale(instance.name, namespace)).spec.replicas
            ghost = await backend.start(spec("ghost"), context("ghost"))
            assert await backend.cleanup_orphans({"web"}) == 1
            await backend.delete("web")
            await wait_until_async(lambda: owned_objects(h.api, namespace),
                                   lambda found: not found["Deployment"] and not found["Service"], 20)
            assert ghost.name not in str(await owned_objects(h.api, namespace))
            runtime = await backend.runtime()
            with pytest.raises(ApiException) as refused:
                await k8s.CoreV1Api(runtime.cluster.api).list_namespaced_secret(namespace)
            assert refused.value.status == 403
        finally:
            await backend.close()


async def _allowed(backend: KubernetesBackend) -> bool:
    """The backend opened (its watches listed) with the token: False while RBAC still says 403."""
    try:
        await backend.runtime()
        return True
    except SvcError as exc:
        assert "403" in exc.message, exc.message
        return False


async def test_pods_the_cluster_will_not_create_fail_the_start_with_its_reason(namespace: str,
                                                                                tmp_path: Path) -> None:
    """The apiserver takes the Deployment, but admission refuses its pods (no such PriorityClass):
    the ReplicaSet controller's FailedCreate fails the start at once, in the apiserver's words."""
    async with harness(namespace, tmp_path) as h:
        instance = await h.backend.start(spec(priority_class="no-such-class"), context())
        with pytest.raises(NotReady, match=r"FailedCreate: .*no PriorityClass with name no-such-class was found"):
            await instance.wait_ready(check(timeout=60))
        assert h.kubelet.started.get("web") is None


async def test_a_failed_restart_goes_back_to_the_template_before_it(namespace: str, tmp_path: Path) -> None:
    """A rollout restart whose new pod crash-loops: the restartedAt annotation is put back as it was
    (none), so the old ReplicaSet takes over again and its pod, which never stopped, keeps serving."""
    async with harness(namespace, tmp_path) as h:
        instance = await ready_instance(h, spec())
        old_pod = (await get(instance.endpoint))["pod"]
        h.kubelet.behaviour["web"] = "CrashLoopBackOff"
        with pytest.raises(SvcError, match=r"rollout of web failed, the previous version was restored: "
                                           r"CrashLoopBackOff"):
            await instance.roll_out(instance.spec, context(), check())
        deployment = await h.apps.read_namespaced_deployment(instance.name, namespace)
        assert "kubectl.kubernetes.io/restartedAt" not in deployment.spec.template.metadata.annotations
        assert (await get(instance.endpoint))["pod"] == old_pod
        await h.kubelet_wait(lambda: list(h.kubelet.apps) == [old_pod])


async def test_scale_to_more_replicas_is_a_rollout_of_the_count(api: Any, jp_fetch: Any, namespace: str,
                                                                 tmp_path: Path) -> None:
    """POST scale {replicas: 2}: the Deployment gets 2 replicas and the service is ready once both
    pods are (no new ReplicaSet: the template did not change); the proxy keeps answering."""
    async with played(namespace, tmp_path) as kubelet, connected(admin_kubeconfig()) as kube:
        code, view = await api("POST", "services", spec_json(), wait=30)
        assert code == 201 and view["status"]["state"] == "ready", view
        code, view = await api("POST", "services/web/scale", {"replicas": 2}, wait=30)
        assert code == 200 and view["status"]["state"] == "ready" and view["spec"]["replicas"] == 2, view
        assert view["status"]["replicas_ready"] == 2
        found = await owned_objects(kube, namespace)
        assert len(found["ReplicaSet"]) == 1 and len(found["Pod"]) == 2
        assert kubelet.started["web"] == 2
        assert (await through_proxy(jp_fetch, "web"))["pod"] in kubelet.apps


def test_what_rolls_out_is_what_reaches_the_objects(tmp_path: Path) -> None:
    """No cluster needed: a change the Deployment or the Service carries (replicas, labels, the
    readiness probe, the image) needs a rollout; a description or an idle window does not."""
    backend = KubernetesBackend(ServerInfo(state_dir=tmp_path, runtime_dir=tmp_path, user="alice"),
                                namespace="ns")
    base = spec()
    for change in ({"replicas": 3}, {"labels": {"team": "ml"}}, {"readiness": {"path": "/healthz"}},
                   {"image": "registry.example/web:2"}, {"env": {"VERSION": "2"}}):
        assert backend.update_needed(base, ServiceSpec.model_validate({**base.model_dump(), **change})), change
    for change in ({"description": "new words"}, {"scale_to_zero": "10m"}, {"desired_state": "scaled_to_zero"}):
        assert not backend.update_needed(base, ServiceSpec.model_validate({**base.model_dump(), **change})), change


async def test_the_built_in_resolvers_and_the_seams_checks() -> None:
    """No cluster needed: "dns" answers the Service's DNS name, "cluster_ip" its ClusterIP (both the
    Service's port, whatever pod is ready); a resolver may be named by import string or be a class
    or be async; nonsense, a failure, or (loopback_only) anything but loopback is refused loudly."""
    from jupyter_svc.backends.kubernetes.resolver import ResolveRefused, load_resolver, resolve

    query = EndpointQuery(service="web", object_name="svc-web-1", namespace="ns", address="10.244.0.7", port=8080,
                          pod="svc-web-1-abc", dns_name="svc-web-1.ns.svc.cluster.local", cluster_ip="10.96.0.9",
                          service_port=80)
    assert await resolve(load_resolver(None, "dns"), query, False) == ("svc-web-1.ns.svc.cluster.local", 80)
    assert await resolve(load_resolver("", "cluster_ip"), query, False) == ("10.96.0.9", 80)
    with pytest.raises(ResolveRefused, match=r"answered 10\.96\.0\.9:80 .*loopback_only refuses"):
        await resolve(load_resolver(None, "cluster_ip"), query, True)
    with pytest.raises(ResolveRefused, match="loopback_only refuses"):
        await resolve(load_resolver(None, "dns"), query, True)
    import kube_play

    assert load_resolver("kube_play:resolve", "dns") is load_resolver("kube_play.resolve", "dns") is kube_play.resolve

    async def later(q: EndpointQuery) -> tuple[str, int]:
        return "::1", 9000

    class Fixed:
        def __call__(self, q: EndpointQuery) -> tuple[str, int]:
            return "127.0.0.2", 9001

    assert await resolve(later, query, True) == ("::1", 9000)
    assert await resolve(load_resolver(Fixed, "dns"), query, True) == ("127.0.0.2", 9001)
    with pytest.raises(ResolveRefused, match=r"answered \('127.0.0.1', 0\) for web: not \(host, port\)"):
        await resolve(lambda q: ("127.0.0.1", 0), query, True)
    with pytest.raises(ResolveRefused, match=r"resolver failed for web \(10\.244\.0\.7:8080\): KeyError"):
        await resolve(lambda q: {}["x"], query, True)
    with pytest.raises(ValueError, match="cannot be imported"):
        load_resolver("no_such_module:thing", "dns")


async def test_the_backend_carries_on_across_an_apiserver_restart(private_plane: PrivatePlane,
                                                                  tmp_path: Path) -> None:
    """On a control plane of this module's own: a ready service; the apiserver is stopped and started
    again (same etcd). The backend's watches resume, and what it does next works: an update rolls out
    and is seen ready, the proxy's endpoint follows, and a stop scales to zero."""
    namespace = f"jsvc-restart-{uuid.uuid4().hex[:6]}"
    async with connected(private_plane.kubeconfig) as admin:
        await k8s.CoreV1Api(admin).create_namespace({"metadata": {"name": namespace}})
    async with harness(namespace, tmp_path, private_plane.kubeconfig) as h:
        instance = await ready_instance(h, spec())
        await asyncio.to_thread(private_plane.restart_apiserver)
        await wait_until_async(lambda: _answers(h.api), bool, 120)  # slow to come back on a loaded machine
        await instance.roll_out(spec(version="2"), context(), check(timeout=60))
        assert (await get(instance.endpoint))["version"] == "2"
        await instance.stop(5)
        assert not (await h.apps.read_namespaced_deployment_scale(instance.name, namespace)).spec.replicas


async def _answers(api: k8s.ApiClient) -> bool:
    try:
        await k8s.CoreV1Api(api).list_namespace(limit=1)
        return True
    except (ApiException, aiohttp.ClientError, OSError, asyncio.TimeoutError):
        return False
