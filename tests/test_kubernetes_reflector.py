"""The Kubernetes reflector (list + watch into a cache), the backend's credentials and its RBAC Role.

Against a real control plane: the cluster ``$JUPYTER_SVC_TEST_KUBECONFIG`` names (the tests skip,
saying so, without it), and for the apiserver restart a private one started with
``../shared/k8s/up.sh`` in the test's temp dir. Tests play the kubelet; nothing connects to a pod or
cluster IP, only to the apiserver on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import kubernetes_validate
import pytest
import yaml
from conftest import KUBECONFIG_VAR
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio.client.exceptions import ApiException

from jupyter_svc.backends.kubernetes import KubernetesSettings, build_deployment, build_service
from jupyter_svc.backends.kubernetes.client import CredentialsError, api_client
from jupyter_svc.backends.kubernetes.reflector import (
    DEPLOYMENTS,
    ENDPOINT_SLICES,
    PODS,
    Reflector,
    ReflectorError,
    ready_endpoint,
)
from jupyter_svc.cli import rbac_text
from jupyter_svc.model.spec import ServiceSpec

K8S = Path(__file__).resolve().parents[2] / "shared" / "k8s"
BASE_URL = "/user/alice/svc/web/"


def admin_kubeconfig() -> Path:
    path = os.environ.get(KUBECONFIG_VAR)
    if not path:
        pytest.skip(f"{KUBECONFIG_VAR} is unset: no Kubernetes cluster to test against "
                    "(.ci/run starts one with ../shared/k8s/up.sh)")
    return Path(path)


@contextlib.asynccontextmanager
async def connected(kubeconfig: Path) -> AsyncIterator[k8s.ApiClient]:
    """An ApiClient from ``kubeconfig``; refuses an apiserver off loopback (tests never leave it)."""
    api = await api_client(str(kubeconfig))
    host = urlsplit(api.configuration.host).hostname or ""
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        await api.close()
        pytest.fail(f"{kubeconfig} names the apiserver {api.configuration.host}: tests connect to loopback only")
    try:
        yield api
    finally:
        await api.close()


@contextlib.contextmanager
def fresh_namespace(prefix: str) -> Iterator[str]:
    """A fresh namespace, deleted afterwards (pods a test bound are finished first, as a kubelet would)."""
    from kubernetes import client, config

    kube = config.new_client_from_config(config_file=str(admin_kubeconfig()), persist_config=False)
    core = client.CoreV1Api(kube)
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield name
    finally:
        for pod in core.list_namespaced_pod(name).items:
            with contextlib.suppress(client.ApiException):  # gone since the list (its ReplicaSet, a test)
                core.delete_namespaced_pod(pod.metadata.name, name, grace_period_seconds=0)
        core.delete_namespace(name, propagation_policy="Background")
        kube.close()


@pytest.fixture
def namespace() -> Iterator[str]:
    with fresh_namespace("jsvc-refl") as name:
        yield name


def owner_settings(namespace: str) -> KubernetesSettings:
    return KubernetesSettings(namespace=namespace, owner=f"tester-{uuid.uuid4().hex[:6]}")


def deployment(settings: KubernetesSettings, name: str, replicas: int = 1) -> dict[str, Any]:
    spec = ServiceSpec.model_validate({"name": name, "image": "registry.example/web:1", "replicas": replicas,
                                       "command": ["serve", "--port", "{port}"]})
    return build_deployment(spec, settings, BASE_URL)


class Recorder:
    """What a change callback saw, as (type, name) pairs."""

    def __init__(self, reflector: Reflector) -> None:
        self.seen: list[tuple[str, str]] = []
        reflector.on_change(lambda kind, obj: self.seen.append((kind, obj["metadata"]["name"])))


async def test_lists_existing_objects_then_sees_adds_updates_and_deletes(namespace: str) -> None:
    """One reflector per kind, each with this owner's label selector: what exists is in the first
    load; a create, a scale and a delete reach the cache and the callbacks; the controllers' pods
    and the Service's EndpointSlice reach theirs; another owner's objects never do. A callback that
    raises does not stop the others."""
    settings, other = owner_settings(namespace), owner_settings(namespace)
    async with connected(admin_kubeconfig()) as api:
        apps = k8s.AppsV1Api(api)
        first = await apps.create_namespaced_deployment(namespace, deployment(settings, "first"))
        await apps.create_namespaced_deployment(namespace, deployment(other, "theirs"))
        selector = settings.owner_selector()
        reflectors = [Reflector(api, kind, namespace, selector) for kind in (DEPLOYMENTS, PODS, ENDPOINT_SLICES)]
        deployments, pods, slices = reflectors
        for reflector in reflectors:
            reflector.start()
        try:
            await asyncio.wait_for(asyncio.gather(*(r.first_load for r in reflectors)), 10)
            first_name = settings.object_name("first")
            assert set(deployments.cache) == {first_name}
            assert deployments.cache[first_name]["metadata"]["uid"] == first.metadata.uid
            deployments.on_change(lambda kind, obj: 1 / 0)  # a reader's bug: logged, the watch goes on
            seen = Recorder(deployments)

            await apps.create_namespaced_deployment(namespace, deployment(settings, "second"))
            second_name = settings.object_name("second")
            await deployments.wait_for(lambda cache: second_name in cache, 10)
            await apps.patch_namespaced_deployment_scale(first_name, namespace, {"spec": {"replicas": 2}},
                                                         _content_type="application/merge-patch+json")
            await deployments.wait_for(lambda cache: cache[first_name]["spec"]["replicas"] == 2, 10)
            await apps.delete_namespaced_deployment(second_name, namespace)
            await deployments.wait_for(lambda cache: second_name not in cache, 10)
            assert ("ADDED", second_name) in seen.seen and ("DELETED", second_name) in seen.seen
            assert ("MODIFIED", first_name) in seen.seen
            assert set(deployments.cache) == {first_name}

            # the controllers' work, through the other two kinds: pods of "first", its Service's slice
            await pods.wait_for(lambda cache: [p["metadata"]["labels"]["jupyter-svc/service"]
                                               for p in cache.values()] == ["first", "first"], 20)
            service = ServiceSpec.model_validate({"name": "first", "image": "registry.example/web:1"})
            await k8s.CoreV1Api(api).create_namespaced_service(namespace, build_service(service, settings))
            await slices.wait_for(lambda cache: any(
                s["metadata"]["labels"].get("kubernetes.io/service-name") == first_name for s in cache.values()), 20)
            assert deployments.lists == pods.lists == slices.lists == 1
        finally:
            for reflector in reflectors:
                await reflector.stop()


async def test_resumes_from_its_resource_version_after_a_disconnect(namespace: str) -> None:
    """The apiserver ends each watch after ``watch_timeout`` (1 s here) and a stopped reflector holds
    no connection; both resume from the resource version reached, so changes made in between
    arrive as events, with no second list."""
    settings = owner_settings(namespace)
    async with connected(admin_kubeconfig()) as api:
        apps = k8s.AppsV1Api(api)
        await apps.create_namespaced_deployment(namespace, deployment(settings, "kept"))
        await apps.create_namespaced_deployment(namespace, deployment(settings, "gone"))
        reflector = Reflector(api, DEPLOYMENTS, namespace, settings.owner_selector(), watch_timeout=1)
        seen = Recorder(reflector)
        reflector.start()
        try:
            await asyncio.wait_for(reflector.first_load, 10)
            await asyncio.sleep(2.5)  # at least two watches ended by the server, resumed
            await apps.create_namespaced_deployment(namespace, deployment(settings, "later"))
            await reflector.wait_for(lambda cache: settings.object_name("later") in cache, 10)

            await reflector.stop()
            at = reflector.resource_version
            await apps.delete_namespaced_deployment(settings.object_name("gone"), namespace)
            await apps.create_namespaced_deployment(namespace, deployment(settings, "meanwhile"))
            assert settings.object_name("gone") in reflector.cache  # nothing watches now
            reflector.start()
            await reflector.wait_for(lambda cache: settings.object_name("gone") not in cache
                                     and settings.object_name("meanwhile") in cache, 10)
            assert reflector.lists == 1, "resumed from the resource version, no list again"
            assert int(reflector.resource_version or 0) > int(at or 0)
            names = [settings.object_name(n) for n in ("kept", "gone", "later", "meanwhile")]
            assert sorted(seen.seen[:2]) == sorted(("ADDED", n) for n in names[:2])  # the first list, as events
            assert ("DELETED", names[1]) in seen.seen and ("ADDED", names[3]) in seen.seen
            assert set(reflector.cache) == {names[0], names[2], names[3]}
        finally:
            await reflector.stop()


async def test_wait_for_a_ready_endpoint_once_the_kubelet_marks_the_pod_ready(namespace: str) -> None:
    """The wake's condition: the Service's EndpointSlice lists a ready endpoint. False while the pod
    is Pending; true once the test (as the kubelet) binds it and writes a Ready status."""
    settings = owner_settings(namespace)
    service = ServiceSpec.model_validate({"name": "web", "image": "registry.example/web:1"})
    node = f"node-{uuid.uuid4().hex[:6]}"
    async with connected(admin_kubeconfig()) as api:
        apps, core = k8s.AppsV1Api(api), k8s.CoreV1Api(api)
        made = await apps.create_namespaced_deployment(namespace, build_deployment(service, settings, BASE_URL))
        await core.create_namespaced_service(namespace, build_service(service, settings, made.metadata.uid))
        slices = Reflector(api, ENDPOINT_SLICES, namespace, settings.owner_selector())
        pods = Reflector(api, PODS, namespace, settings.owner_selector())
        slices.start(), pods.start()
        await core.create_node({"metadata": {"name": node},
                                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
        try:
            ready = ready_endpoint(settings.object_name("web"))
            (pod,) = (await pods.wait_for(lambda cache: list(cache.values()) if cache else None, 20))
            with pytest.raises(asyncio.TimeoutError):
                await slices.wait_for(ready, 1)  # Pending: no ready endpoint
            name = pod["metadata"]["name"]
            await core.create_namespaced_pod_binding(name, namespace, {
                "metadata": {"name": name}, "target": {"kind": "Node", "name": node}}, _preload_content=False)
            await core.patch_namespaced_pod_status(name, namespace, {"status": {
                "phase": "Running", "podIP": "10.244.0.10", "podIPs": [{"ip": "10.244.0.10"}],
                "conditions": [{"type": t, "status": "True"} for t in ("Initialized", "ContainersReady", "Ready")]}})
            # written into status only: nothing listens there and nothing here connects to it
            assert await slices.wait_for(ready, 20) == ("10.244.0.10",)
        finally:
            await slices.stop()
            await pods.stop()
            await core.delete_node(node)


async def test_the_shipped_role_is_enough(namespace: str) -> None:
    """``jupyter svc rbac``'s Role and RoleBinding, applied by the admin; the ``developer`` user
    (up.sh's, no groups: 403 until bound) bound to that Role only. Before: the reflector's first
    load fails with the 403. After: the three reflectors load and watch, and every verb the backend
    will use is allowed; what the Role does not grant (Secrets) stays forbidden."""
    developer_config = admin_kubeconfig().with_name("developer.kubeconfig")
    if not developer_config.is_file():
        pytest.skip(f"no {developer_config.name} beside {KUBECONFIG_VAR} (../shared/k8s/up.sh writes one)")
    settings = owner_settings(namespace)
    async with connected(developer_config) as dev, connected(admin_kubeconfig()) as admin:
        refused = Reflector(dev, DEPLOYMENTS, namespace, settings.owner_selector())
        refused.start()
        with pytest.raises(ReflectorError, match=r"cannot list Deployments in namespace .*: 403 .*forbidden"):
            await asyncio.wait_for(refused.first_load, 10)
        assert not refused.running

        role, binding = yaml.safe_load_all(rbac_text(namespace, "jupyter"))
        rbac = k8s.RbacAuthorizationV1Api(admin)
        await rbac.create_namespaced_role(namespace, role)
        await rbac.create_namespaced_role_binding(namespace, binding)  # valid for the apiserver too
        await rbac.create_namespaced_role_binding(namespace, {
            "metadata": {"name": "jupyter-svc-developer"},
            "roleRef": binding["roleRef"], "subjects": [
                {"kind": "User", "name": "developer", "apiGroup": "rbac.authorization.k8s.io"}]})
        apps, core = k8s.AppsV1Api(dev), k8s.CoreV1Api(dev)
        deadline = time.monotonic() + 10
        while True:  # the authorizer's cache sees the binding within moments
            try:
                await apps.list_namespaced_deployment(namespace)
                break
            except ApiException as exc:
                if exc.status != 403 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

        reflectors = [Reflector(dev, kind, namespace, settings.owner_selector())
                      for kind in (DEPLOYMENTS, PODS, ENDPOINT_SLICES)]
        for reflector in reflectors:
            reflector.start()
        try:
            await asyncio.wait_for(asyncio.gather(*(r.first_load for r in reflectors)), 10)
            service = ServiceSpec.model_validate({"name": "web", "image": "registry.example/web:1"})
            name = settings.object_name("web")
            made = await apps.create_namespaced_deployment(namespace, build_deployment(service, settings, BASE_URL))
            await core.create_namespaced_service(namespace, build_service(service, settings, made.metadata.uid))
            await reflectors[0].wait_for(lambda cache: name in cache, 10)
            (pod,) = await reflectors[1].wait_for(lambda cache: list(cache.values()) if cache else None, 20)
            await core.read_namespaced_pod(pod["metadata"]["name"], namespace)
            assert not await core.read_namespaced_pod_log(pod["metadata"]["name"], namespace, container="app")
            await apps.patch_namespaced_deployment(name, namespace, {"spec": {"template": {"metadata": {
                "annotations": {"jupyter-svc/restarted-at": "now"}}}}},
                _content_type="application/merge-patch+json")
            await apps.read_namespaced_deployment_scale(name, namespace)
            await apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 0}},
                                                         _content_type="application/merge-patch+json")
            await apps.list_namespaced_replica_set(namespace)
            await core.list_namespaced_event(namespace)
            events = await k8s.EventsV1Api(dev).list_namespaced_event(namespace, _preload_content=False)
            events.release()  # read unparsed: the client's model refuses events without eventTime
            assert events.status == 200
            with pytest.raises(ApiException) as secrets:
                await core.list_namespaced_secret(namespace)
            assert secrets.value.status == 403
            await core.delete_namespaced_service(name, namespace)
            await apps.delete_namespaced_deployment(name, namespace)
            await reflectors[0].wait_for(lambda cache: name not in cache, 10)
        finally:
            for reflector in reflectors:
                await reflector.stop()


def test_the_shipped_role_validates_against_the_official_schemas() -> None:
    """The Role (and the CLI's RoleBinding) as the pinned Kubernetes minor's JSON schemas read them."""
    for document in yaml.safe_load_all(rbac_text("team-a", "jupyter")):
        kubernetes_validate.validate(document, "1.37", strict=True)
    role = yaml.safe_load(rbac_text())
    assert "namespace" not in role["metadata"]  # `kubectl apply -n NS` places it
    granted = {(group, resource) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"]}
    assert {("apps", "deployments"), ("apps", "deployments/scale"), ("", "services"), ("", "pods"),
            ("", "pods/log"), ("discovery.k8s.io", "endpointslices"), ("", "events")} <= granted


async def test_credentials_from_a_kubeconfig_or_a_pods_service_account(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A kubeconfig, and the in-cluster path with a service-account directory laid out as in a pod
    (the admin's token and the cluster's CA; KUBERNETES_SERVICE_HOST on loopback): both reach the
    apiserver. A missing kubeconfig is an error that names it."""
    kubeconfig = admin_kubeconfig()
    async with connected(kubeconfig) as api:
        assert (await k8s.VersionApi(api).get_code()).major == "1"

    settings = yaml.safe_load(kubeconfig.read_text())
    cluster, user = settings["clusters"][0]["cluster"], settings["users"][0]["user"]
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(user["token"])
    (account / "ca.crt").write_bytes(base64.b64decode(cluster["certificate-authority-data"]))
    server = urlsplit(cluster["server"])
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", server.hostname or "")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
    assert ipaddress.ip_address(server.hostname or "").is_loopback
    api = await api_client(service_account_dir=account)
    try:
        assert api.configuration.host == cluster["server"]
        namespaces = await k8s.CoreV1Api(api).list_namespace()
        assert "default" in {n.metadata.name for n in namespaces.items}
    finally:
        await api.close()

    with pytest.raises(CredentialsError, match=str(tmp_path / "nowhere.kubeconfig")):
        await api_client(str(tmp_path / "nowhere.kubeconfig"))


# ------------------------------------------------------------------- an apiserver restart
class PrivatePlane:
    """A control plane of this module's own (up.sh in a temp dir), whose apiserver tests stop and
    start again with the command line up.sh gave it, on the same etcd (so objects and resource
    versions survive). The pid file follows the new process, so down.sh stops it as its own."""

    def __init__(self, directory: Path) -> None:
        self.directory, self.kubeconfig = directory, directory / "admin.kubeconfig"
        self.started: list[subprocess.Popen[bytes]] = []

    def restart_apiserver(self) -> None:
        pid_file = self.directory / "apiserver.pid"
        pid = int(pid_file.read_text())
        argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid):
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        with (self.directory / "apiserver.log").open("ab") as log:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.started.append(process)
        pid_file.write_text(f"{process.pid}\n")

    async def create_when_up(self, apps: Any, namespace: str, body: dict[str, Any]) -> None:
        """Create ``body`` once the (restarted) apiserver answers."""
        deadline = time.monotonic() + 60
        while True:
            try:
                await apps.create_namespaced_deployment(namespace, body)
                return
            except (ApiException, aiohttp.ClientError, OSError, asyncio.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)


def _alive(pid: int) -> bool:
    """Running, not a zombie (a process this test started is reaped by its Popen later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture(scope="module")
def private_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePlane]:
    admin_kubeconfig()  # the Kubernetes tests run only when a cluster is configured
    if not (K8S / "up.sh").is_file():
        pytest.skip(f"no {K8S / 'up.sh'} to start a private control plane")
    plane = PrivatePlane(tmp_path_factory.mktemp("plane") / "kube")
    subprocess.run([str(K8S / "up.sh"), str(plane.directory)], check=True, capture_output=True, timeout=180)
    try:
        yield plane
    finally:
        subprocess.run([str(K8S / "down.sh"), str(plane.directory)], capture_output=True, timeout=120)
        for process in plane.started:
            process.kill()  # down.sh stopped it; this only reaps it
            process.wait(timeout=30)


async def test_the_watch_survives_an_apiserver_restart(private_plane: PrivatePlane) -> None:
    """The reflector loads; the apiserver is stopped (SIGTERM to the pid up.sh wrote) and started
    again; meanwhile the reflector keeps its cache and retries (connection refused); afterwards a
    create and a delete reach it."""
    settings = owner_settings("default")
    async with connected(private_plane.kubeconfig) as api:
        apps = k8s.AppsV1Api(api)
        await apps.create_namespaced_deployment("default", deployment(settings, "before"))
        reflector = Reflector(api, DEPLOYMENTS, "default", settings.owner_selector(), backoff_max=1.0)
        reflector.start()
        try:
            await asyncio.wait_for(reflector.first_load, 10)
            await asyncio.to_thread(private_plane.restart_apiserver)
            await asyncio.sleep(1)
            assert reflector.running and set(reflector.cache) == {settings.object_name("before")}
            await private_plane.create_when_up(apps, "default", deployment(settings, "after"))
            await reflector.wait_for(lambda cache: settings.object_name("after") in cache, 30)
            await apps.delete_namespaced_deployment(settings.object_name("before"), "default")
            await reflector.wait_for(lambda cache: settings.object_name("before") not in cache, 30)
            assert set(reflector.cache) == {settings.object_name("after")}
            # the new apiserver's watch cache starts at etcd's revision now: an older one is
            # 410 Gone (relisted), the same one resumes
            assert reflector.lists in (1, 2)
        finally:
            await reflector.stop()


async def test_a_gone_resource_version_relists_and_reports_the_difference(private_plane: PrivatePlane) -> None:
    """410 Gone, from the real apiserver: changes made while the reflector is stopped, then an
    apiserver restart, whose watch cache begins at etcd's revision after those changes; the
    reflector's resumed watch is refused as too old, it lists again and reports what changed
    while it was away as events."""
    settings = owner_settings("default")
    async with connected(private_plane.kubeconfig) as api:
        apps = k8s.AppsV1Api(api)
        await apps.create_namespaced_deployment("default", deployment(settings, "old"))
        await apps.create_namespaced_deployment("default", deployment(settings, "changed"))
        reflector = Reflector(api, DEPLOYMENTS, "default", settings.owner_selector())
        reflector.start()
        try:
            await asyncio.wait_for(reflector.first_load, 10)
            await reflector.stop()
            seen, away_from = Recorder(reflector), reflector.resource_version
            await apps.delete_namespaced_deployment(settings.object_name("old"), "default")
            await apps.patch_namespaced_deployment_scale(settings.object_name("changed"), "default",
                                                         {"spec": {"replicas": 3}},
                                                         _content_type="application/merge-patch+json")
            await asyncio.to_thread(private_plane.restart_apiserver)
            await private_plane.create_when_up(apps, "default", deployment(settings, "new"))
            reflector.start()
            await reflector.wait_for(lambda cache: reflector.lists == 2, 20)
            assert sorted(seen.seen) == sorted([("DELETED", settings.object_name("old")),
                                                ("ADDED", settings.object_name("new")),
                                                ("MODIFIED", settings.object_name("changed"))])
            assert reflector.cache[settings.object_name("changed")]["spec"]["replicas"] == 3
            assert int(reflector.resource_version or 0) > int(away_from or 0)
        finally:
            await reflector.stop()
