"""The Kubernetes backend's object builders: a spec becomes a Deployment and a Service.

Three rings of proof: the objects' content (pure, no cluster), the official JSON schemas of a pinned
Kubernetes minor (`kubernetes-validate`), and a real apiserver with its admission and controllers
(the cluster ``$JUPYTER_SVC_TEST_KUBECONFIG`` names; those tests skip, saying so, without it). No
test connects to a pod or cluster IP: only the apiserver, on loopback.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kubernetes_validate
import pytest
import yaml

from jupyter_svc.backends.kubernetes import KubernetesSettings, OwnerPod, Toleration, build_deployment, build_service
from jupyter_svc.backends.kubernetes import check as check_spec
from jupyter_svc.model.errors import SpecInvalid
from jupyter_svc.model.spec import Manifest, ServiceSpec

#: The Kubernetes minor whose official schemas the objects must satisfy: the newest that
#: kubernetes-validate ships (the local control plane in ../shared/k8s runs v1.36).
K8S_SCHEMA_VERSION = "1.37"
BASE_URL = "/user/alice/svc/web/"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}

T = TypeVar("T")


def settings(**overrides: Any) -> KubernetesSettings:
    return KubernetesSettings(**{"namespace": "team-a", "owner": "alice", **overrides})


def spec(**fields: Any) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": "web", "image": "registry.example/web:1",
                                       "command": ["serve", "--port", "{port}"], **fields})


MINIMAL = {"name": "web", "image": "registry.example/web:1"}


def full_spec(priority_class: str = "gpu-high") -> ServiceSpec:
    """Every placement field, and the fields that shape the pod."""
    return ServiceSpec.model_validate({
        "name": "trainer",
        "description": "every placement field",
        "labels": {"team": "ml", "example.org/tier": "gold"},
        "annotations": {"example.org/owner": "ml team", "note": "free text: any value"},
        "image": "registry.example/trainer:2",
        "image_pull_secrets": ["regcred", "mirror.creds"],
        "command": "exec serve --port {port} --metrics {ports.metrics} --root {base_url}",
        "shell": True,
        "cwd": "project",
        "env": {"MODE": "train", "SELF": "{name}:{port}"},
        "port": 9000,
        "ports": [{"name": "metrics", "port": 0}, {"name": "stats", "port": 9125, "protocol": "UDP"}],
        "rewrite_path": False,
        "readiness": {"path": "healthz", "timeout": "3m", "interval": "5s", "statuses": [200, 204]},
        "replicas": 2,
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi", "gpu": "1"},
                      "limits": {"cpu": "2", "memory": "1.5Gi", "gpu": "1"}},
        "node_selector": {"cloud.example/accelerator": "a100", "kubernetes.io/arch": "amd64"},
        "priority_class": priority_class,
        "volumes": [{"claim": "datasets", "mount_path": "/data", "read_only": True},
                    {"claim": "datasets", "mount_path": "/scratch", "sub_path": "tmp/alice"},
                    {"claim": "models", "mount_path": "/models"}],
        "sidecars": [{"name": "exporter", "image": "registry.example/exporter:1", "command": ["export", "{port}"],
                      "env": {"TARGET": "localhost:{port}"}, "resources": {"limits": {"cpu": "100m"}}},
                     {"name": "shipper", "command": ["ship-logs"]}],
        "init": [{"name": "fetch-model", "command": ["fetch", "/models"], "cwd": "/models",
                  "resources": {"limits": {"memory": "256Mi"}}}],
        "depends_on": ["feature-store"],
    })


def full_settings(**overrides: Any) -> KubernetesSettings:
    return settings(**{
        "owner": "alice@example.org",
        "extra_labels": {"hub.jupyter.org/username": "alice"},
        "service_account": "svc-runner",
        "home_claim": "claim-alice",
        "home_sub_path": "home",
        "owner_pod": OwnerPod("jupyter-alice", "0d1c5b36-5c3a-4c3d-9a55-3f1c2e9d7a10"),
        "tolerations": (Toleration(key="dedicated", value="ml", effect="NoSchedule"),
                        Toleration(key="node.kubernetes.io/unreachable", operator="Exists", effect="NoExecute",
                                   seconds=30)),
        "run_as_user": 1000, "run_as_group": 100, "fs_group": 100,
        **overrides,
    })


def containers_of(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pod = deployment["spec"]["template"]["spec"]
    return {c["name"]: c for c in [*pod["containers"], *pod.get("initContainers", [])]}


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container["env"]}


# ------------------------------------------------------------------ content, no cluster
def test_minimal_spec_makes_a_deployment_and_a_service() -> None:
    deployment = build_deployment(spec(), settings(), BASE_URL)
    service = build_service(spec(), settings())
    name = settings().object_name("web")
    for obj in (deployment, service):
        assert obj["metadata"]["name"] == name and obj["metadata"]["namespace"] == "team-a"
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "jupyter-svc",
                                             "jupyter-svc/owner": "alice", "jupyter-svc/service": "web"}
        assert "ownerReferences" not in obj["metadata"]
    assert deployment["spec"]["replicas"] == 1
    selector = deployment["spec"]["selector"]["matchLabels"]
    template = deployment["spec"]["template"]
    assert selector.items() <= template["metadata"]["labels"].items()
    assert service["spec"]["selector"] == selector
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = template["spec"]
    (app,) = pod["containers"]
    assert app["name"] == "app" and app["image"] == "registry.example/web:1"
    assert app["command"] == ["serve", "--port", "8080"] and "args" not in app
    assert app["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert app["readinessProbe"] == {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"},
                                     "periodSeconds": 1, "timeoutSeconds": 2}
    assert env_of(app) == {"JUPYTER_SVC_NAME": "web", "JUPYTER_SVC_PORT": "8080", "JUPYTER_SVC_BASE_URL": BASE_URL}
    assert "resources" not in app and "volumeMounts" not in app and "workingDir" not in app
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert app["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["automountServiceAccountToken"] is False and "serviceAccountName" not in pod
    for absent in ("initContainers", "volumes", "tolerations", "nodeSelector", "priorityClassName",
                   "imagePullSecrets"):
        assert absent not in pod
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
                                         "appProtocol": "http"}]


def test_an_image_without_command_keeps_its_entrypoint() -> None:
    app = containers_of(build_deployment(ServiceSpec.model_validate(MINIMAL), settings(), BASE_URL))["app"]
    assert "command" not in app and "args" not in app


def test_every_placement_field_lands_in_the_pod() -> None:
    config = full_settings()
    deployment = build_deployment(full_spec(), config, BASE_URL)
    meta, pod = deployment["metadata"], deployment["spec"]["template"]["spec"]
    assert meta["labels"]["team"] == "ml" and meta["labels"]["hub.jupyter.org/username"] == "alice"
    assert meta["annotations"] == {"example.org/owner": "ml team", "note": "free text: any value"}
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Pod", "name": "jupyter-alice",
                                        "uid": "0d1c5b36-5c3a-4c3d-9a55-3f1c2e9d7a10"}]
    assert deployment["spec"]["replicas"] == 2 and deployment["spec"]["progressDeadlineSeconds"] == 180
    template_meta = deployment["spec"]["template"]["metadata"]
    assert template_meta["annotations"]["kubectl.kubernetes.io/default-container"] == "app"
    assert template_meta["labels"]["example.org/tier"] == "gold"

    containers = containers_of(deployment)
    app, exporter, shipper, fetch = (containers[n] for n in ("app", "exporter", "shipper", "fetch-model"))
    assert [c["name"] for c in pod["containers"]] == ["app", "exporter", "shipper"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-model"]
    assert app["command"] == ["/bin/sh", "-c"]
    assert app["args"] == [f"exec serve --port 9000 --metrics 9001 --root {BASE_URL}"]
    assert app["workingDir"] == "/home/jovyan/project"
    assert app["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9001, "protocol": "TCP"},
                            {"name": "stats", "containerPort": 9125, "protocol": "UDP"}]
    assert app["readinessProbe"]["httpGet"]["path"] == "/user/alice/svc/web/healthz"  # not rewritten: under base_url
    assert app["readinessProbe"]["periodSeconds"] == 5
    env = env_of(app)
    assert env["SVC_FEATURE_STORE_URL"] == f"http://{config.object_name('feature-store')}.team-a.svc.cluster.local/"
    assert env["SELF"] == "trainer:9000" and env["MODE"] == "train" and env["JUPYTER_SVC_PORT"] == "9000"
    assert app["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                                "limits": {"cpu": "2", "memory": "1.5Gi", "nvidia.com/gpu": "1"}}
    assert app["imagePullPolicy"] == "IfNotPresent"

    assert exporter["image"] == "registry.example/exporter:1" and exporter["command"] == ["export", "9000"]
    assert env_of(exporter)["TARGET"] == "localhost:9000" and env_of(exporter)["MODE"] == "train"
    assert exporter["resources"] == {"limits": {"cpu": "100m"}}
    assert shipper["image"] == "registry.example/trainer:2"  # no image of its own: the service's
    assert fetch["command"] == ["fetch", "/models"] and fetch["workingDir"] == "/models"
    assert fetch["resources"] == {"limits": {"memory": "256Mi"}}

    assert pod["volumes"] == [{"name": "home", "persistentVolumeClaim": {"claimName": "claim-alice"}},
                              {"name": "claim-0", "persistentVolumeClaim": {"claimName": "datasets"}},
                              {"name": "claim-1", "persistentVolumeClaim": {"claimName": "models"}}]
    mounts = [{"name": "home", "mountPath": "/home/jovyan", "subPath": "home"},
              {"name": "claim-0", "mountPath": "/data", "readOnly": True},
              {"name": "claim-0", "mountPath": "/scratch", "subPath": "tmp/alice"},
              {"name": "claim-1", "mountPath": "/models"}]
    assert all(c["volumeMounts"] == mounts for c in containers.values())  # init steps fill volumes too
    assert pod["nodeSelector"] == {"cloud.example/accelerator": "a100", "kubernetes.io/arch": "amd64"}
    assert pod["priorityClassName"] == "gpu-high"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror.creds"}]
    assert pod["serviceAccountName"] == "svc-runner" and pod["automountServiceAccountToken"] is True
    assert pod["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30},
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},  # it asks for a GPU
    ]
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100, "runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert all(c["securityContext"]["capabilities"] == {"drop": ["ALL"]} for c in containers.values())

    service = build_service(full_spec(), config, deployment_uid="5e1f7f0e-0000-4000-8000-000000000001")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP", "appProtocol": "http"},
        {"name": "metrics", "port": 9001, "targetPort": "metrics", "protocol": "TCP"},
        {"name": "stats", "port": 9125, "targetPort": "stats", "protocol": "UDP"},
    ]
    assert [o["kind"] for o in service["metadata"]["ownerReferences"]] == ["Deployment", "Pod"]
    assert service["metadata"]["ownerReferences"][0]["name"] == deployment["metadata"]["name"]


def test_gpu_resource_name_is_configurable() -> None:
    deployment = build_deployment(spec(resources={"limits": {"gpu": "2"}}), settings(gpu_resource="amd.com/gpu"),
                                  BASE_URL)
    app = containers_of(deployment)["app"]
    assert app["resources"] == {"requests": {"amd.com/gpu": "2"}, "limits": {"amd.com/gpu": "2"}}
    assert deployment["spec"]["template"]["spec"]["tolerations"] == [
        {"key": "amd.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


@pytest.mark.parametrize("state", ["scaled_to_zero", "disabled"])
def test_no_replicas_when_scaled_to_zero_or_disabled(state: str) -> None:
    assert build_deployment(spec(replicas=3, desired_state=state), settings(), BASE_URL)["spec"]["replicas"] == 0
    assert build_deployment(spec(replicas=3), settings(), BASE_URL)["spec"]["replicas"] == 3


def test_without_restriction_no_security_context_is_imposed() -> None:
    deployment = build_deployment(spec(), settings(restricted=False), BASE_URL)
    pod = deployment["spec"]["template"]["spec"]
    assert "securityContext" not in pod and "securityContext" not in pod["containers"][0]


def test_our_labels_win_over_the_specs() -> None:
    """A spec cannot move its pods out of the selector or claim another owner's."""
    labels = {"jupyter-svc/owner": "bob", "jupyter-svc/service": "other", "app.kubernetes.io/managed-by": "me"}
    deployment = build_deployment(spec(labels=labels), settings(), BASE_URL)
    for where in (deployment["metadata"], deployment["spec"]["template"]["metadata"]):
        assert where["labels"]["jupyter-svc/owner"] == "alice" and where["labels"]["jupyter-svc/service"] == "web"
        assert where["labels"]["app.kubernetes.io/managed-by"] == "jupyter-svc"


def test_names_are_valid_and_unique_per_owner() -> None:
    alice, bob = settings(owner="alice"), settings(owner="bob")
    assert alice.object_name("web") != bob.object_name("web")
    assert alice.object_name("web") == settings(owner="alice").object_name("web")  # stable across restarts
    long_a, long_b = "a" * 62 + "1", "a" * 62 + "2"
    for name in (alice.object_name(long_a), alice.object_name("0day")):
        assert len(name) <= 63 and name[0].isalpha()  # a Service name: a DNS-1035 label
    assert alice.object_name(long_a) != alice.object_name(long_b)
    odd = settings(owner="Alice Smith <alice@example.org>" + "x" * 80)
    assert len(odd.owner_label) <= 63 and odd.owner_label[0].isalnum() and odd.owner_label[-1].isalnum()
    assert odd.owner_label != settings(owner="Alice Smith <alice@example.org>" + "x" * 81).owner_label
    assert alice.owner_selector() == "app.kubernetes.io/managed-by=jupyter-svc,jupyter-svc/owner=alice"


@pytest.mark.parametrize(
    ("fields", "overrides", "field"),
    [
        ({"image": None, "command": ["serve"]}, {}, "image"),
        ({"restart_policy": "never"}, {}, "restart_policy"),
        ({"command": ["serve", "--socket", "{unix_socket}"]}, {}, "command"),
        ({"env": {"LISTEN": "unix:{unix_socket}"}}, {}, "env.LISTEN"),
        ({"labels": {"team": "ml and ai"}}, {}, "labels.team"),
        ({"labels": {"example.org/" + "n" * 64: "x"}}, {}, "labels.example.org/" + "n" * 64),
        ({"annotations": {"not a key": "x"}}, {}, "annotations.not a key"),
        ({"node_selector": {"zone": "-eu"}}, {}, "node_selector.zone"),
        ({"image_pull_secrets": ["Reg_Cred"]}, {}, "image_pull_secrets[0]"),
        ({"priority_class": "High"}, {}, "priority_class"),
        ({"ports": [{"name": "http", "port": 9000}]}, {}, "ports[0].name"),
        ({"ports": [{"name": "a--b", "port": 9000}]}, {}, "ports[0].name"),
        ({"port": 9000, "ports": [{"name": "admin", "port": 9000}]}, {}, "ports[0].port"),
        ({"ports": [{"name": "web", "port": 80}]}, {}, "ports[0].port"),
        ({"readiness": {"statuses": [200, 404]}}, {}, "readiness.statuses"),
        ({"resources": {"requests": {"gpu": "1"}, "limits": {"gpu": "2"}}}, {}, "resources.requests.gpu"),
        ({"cwd": "project"}, {}, "cwd"),
        ({"init": [{"name": "step", "command": ["x"], "cwd": "rel"}]}, {}, "init[0].cwd"),
        ({"sidecars": [{"name": "app", "command": ["x"]}]}, {}, "sidecars[0].name"),
        ({"sidecars": [{"name": "s", "command": ["x"]}], "init": [{"name": "s", "command": ["y"]}]}, {},
         "init[0].name"),
        ({"volumes": [{"claim": "Data", "mount_path": "/data"}]}, {}, "volumes[0].claim"),
        ({"volumes": [{"claim": "d", "mount_path": "/home/jovyan/"}]}, {"home_claim": "home"}, "volumes[0].mount_path"),
        ({"volumes": [{"claim": "d", "mount_path": "/d", "sub_path": "../etc"}]}, {}, "volumes[0].sub_path"),
    ],
)
def test_what_kubernetes_cannot_take_is_refused_by_field(fields: dict[str, Any], overrides: dict[str, Any],
                                                          field: str) -> None:
    bad, config = spec(**fields), settings(**overrides)
    assert [e.field for e in check_spec(bad, config)] == [field]
    with pytest.raises(SpecInvalid) as refused:
        build_deployment(bad, config, BASE_URL)
    assert [e.field for e in refused.value.errors] == [field]
    with pytest.raises(SpecInvalid):
        build_service(bad, config)


def test_valid_specs_pass_the_check() -> None:
    assert check_spec(full_spec(), full_settings()) == []
    assert check_spec(spec(), settings()) == []


@pytest.mark.parametrize(
    ("overrides", "named"),
    [({"namespace": "Team_A"}, "namespace"), ({"name_prefix": "1-"}, "name_prefix"),
     ({"gpu_resource": "gpu"}, "gpu_resource"), ({"home_claim": "Home"}, "home_claim"),
     ({"home_mount_path": "home"}, "home_mount_path"), ({"extra_labels": {"a": "b c"}}, "extra_labels.a"),
     ({"service_port": 0}, "service_port")],
)
def test_bad_settings_are_refused_by_name(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=f"{named}: "):
        settings(**overrides)


@pytest.mark.parametrize(
    ("toleration", "says"),
    [({"key": "k", "operator": "Exists", "value": "v"}, "takes no value"),
     ({"key": "k", "value": "v", "effect": "NoSchedule", "seconds": 30}, "NoExecute")],
)
def test_bad_tolerations_are_refused(toleration: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        Toleration(**toleration)


# ------------------------------------------------------------------ the official schemas
SCHEMA_CASES = {
    "minimal": lambda: (ServiceSpec.model_validate(MINIMAL), settings()),
    "argv": lambda: (spec(), settings()),
    "every placement field": lambda: (full_spec(), full_settings()),
    "scaled to zero": lambda: (spec(desired_state="scaled_to_zero"), settings()),
    "unrestricted, other GPU": lambda: (spec(resources={"limits": {"gpu": "1"}}),
                                        settings(restricted=False, gpu_resource="amd.com/gpu", image_pull_policy=None)),
}


@pytest.mark.parametrize("case", list(SCHEMA_CASES))
def test_objects_validate_against_the_official_schemas(case: str) -> None:
    service_spec, config = SCHEMA_CASES[case]()
    for obj in (build_deployment(service_spec, config, BASE_URL), build_service(service_spec, config, "uid-1")):
        assert kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True) == K8S_SCHEMA_VERSION


def test_the_schema_check_can_fail() -> None:
    """The schema validation above is not vacuous: a wrong type or an unknown field is caught."""
    deployment = build_deployment(spec(), settings(), BASE_URL)
    deployment["spec"]["replicas"] = "1"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_SCHEMA_VERSION, strict=True)
    service = build_service(spec(), settings())
    service["spec"]["clusterPort"] = 80
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, K8S_SCHEMA_VERSION, strict=True)


#: Every field of the spec that only a cluster honours (the local backend refuses each).
PLACEMENT_FIELDS = ("image", "image_pull_secrets", "resources", "node_selector", "priority_class", "volumes",
                    "sidecars", "init", "replicas")


def test_the_docs_sample_manifest_sets_every_placement_field_and_runs_here() -> None:
    """docs/kubernetes.md's sample manifest: every placement field set (GPU included), accepted by
    the backend's check, and its objects valid for the official schemas."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "kubernetes.md").read_text()
    sample = page.split("## A sample manifest with every placement field", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", sample, flags=re.DOTALL)
    assert block is not None
    (service,) = Manifest.model_validate(yaml.safe_load(block.group(1))).services
    assert service.backend == "kubernetes"
    unset = [name for name in PLACEMENT_FIELDS if getattr(service, name) == ServiceSpec.model_fields[name].default
             or getattr(service, name) in ([], {}, None)]
    assert unset == [] and service.resources.limits.gpu == "1", unset
    assert check_spec(service, settings()) == []
    for obj in (build_deployment(service, settings(), BASE_URL), build_service(service, settings(), "uid-1")):
        assert kubernetes_validate.validate(obj, K8S_SCHEMA_VERSION, strict=True) == K8S_SCHEMA_VERSION


def test_the_readme_gpu_example_runs_here() -> None:
    """README's "Kubernetes" section: its GPU and node-selection example passes the backend's check."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## Kubernetes", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    (service,) = Manifest.model_validate(yaml.safe_load(block.group(1))).services
    assert service.resources.limits.gpu == "1" and service.node_selector
    assert check_spec(service, settings()) == []
    deployment = build_deployment(service, settings(), BASE_URL)
    assert kubernetes_validate.validate(deployment, K8S_SCHEMA_VERSION, strict=True) == K8S_SCHEMA_VERSION


# ------------------------------------------------------------------ a real apiserver
def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)


@pytest.fixture
def namespace(kube_client: Any) -> Iterator[str]:
    """A fresh namespace that enforces Pod Security "restricted", deleted afterwards."""
    from kubernetes import client

    core = client.CoreV1Api(kube_client)
    name = f"jsvc-test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=RESTRICTED)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


def cluster_settings(namespace: str, **overrides: Any) -> KubernetesSettings:
    return settings(namespace=namespace, owner=f"tester-{uuid.uuid4().hex[:6]}", **overrides)


def test_apiserver_accepts_the_objects_and_the_controllers_make_pods(kube_client: Any, namespace: str) -> None:
    """Created for real in a restricted namespace: validation and admission accept both objects, the
    Deployment controller makes a ReplicaSet, the ReplicaSet makes the pods (Pending: no kubelet), and
    deleting the Deployment (Background) takes the Service, ReplicaSet and pods with it."""
    from kubernetes import client

    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    config = cluster_settings(namespace)
    service_spec = spec(replicas=2, ports=[{"name": "metrics", "port": 0}], resources={"limits": {"gpu": "1"}})
    created = apps.create_namespaced_deployment(namespace, build_deployment(service_spec, config, BASE_URL))
    service = core.create_namespaced_service(namespace, build_service(service_spec, config, created.metadata.uid))
    assert service.spec.cluster_ip and [p.target_port for p in service.spec.ports] == ["http", "metrics"]

    selector = ",".join(f"{k}={v}" for k, v in config.selector_labels("web").items())
    replica_sets = wait_for("a ReplicaSet", lambda: apps.list_namespaced_replica_set(
        namespace, label_selector=selector).items)
    assert replica_sets[0].metadata.owner_references[0].uid == created.metadata.uid
    pods = wait_for("two pods", lambda: (found := core.list_namespaced_pod(
        namespace, label_selector=selector).items) and len(found) == 2 and found)
    for pod in pods:
        assert pod.status.phase == "Pending" and pod.spec.node_name is None
        assert pod.spec.containers[0].resources.limits == {"nvidia.com/gpu": "1"}
        assert pod.metadata.labels["jupyter-svc/owner"] == config.owner_label
    ours = core.list_namespaced_pod(namespace, label_selector=config.owner_selector()).items
    assert {p.metadata.name for p in ours} == {p.metadata.name for p in pods}

    apps.delete_namespaced_deployment(config.object_name("web"), namespace, propagation_policy="Background")
    wait_for("the Service, ReplicaSet and pods collected", lambda: not (
        core.list_namespaced_service(namespace, label_selector=selector).items
        or apps.list_namespaced_replica_set(namespace, label_selector=selector).items
        or core.list_namespaced_pod(namespace, label_selector=selector).items))


def test_scaled_to_zero_makes_no_pods(kube_client: Any, namespace: str) -> None:
    from kubernetes import client

    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    config = cluster_settings(namespace)
    apps.create_namespaced_deployment(namespace, build_deployment(spec(desired_state="scaled_to_zero", replicas=2),
                                                                  config, BASE_URL))
    name = config.object_name("web")
    wait_for("the Deployment observed", lambda: apps.read_namespaced_deployment_status(
        name, namespace).status.observed_generation == 1)
    (replica_set,) = wait_for("a ReplicaSet", lambda: apps.list_namespaced_replica_set(
        namespace, label_selector=config.owner_selector()).items)
    assert replica_set.spec.replicas == 0
    assert core.list_namespaced_pod(namespace, label_selector=config.owner_selector()).items == []


def test_every_placement_field_passes_a_server_side_dry_run(kube_client: Any, namespace: str) -> None:
    """Server-side dry runs (validation and admission, nothing stored) of the Deployment, the Service and
    a pod made from the template: the pod meets Pod Security "restricted", its priority class and
    service account are resolved by their admission plugins. The same pod without the restricted
    security context is refused, so the namespace's enforcement is real."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    scheduling = client.SchedulingV1Api(kube_client)
    priority = f"jsvc-test-{uuid.uuid4().hex[:8]}"
    scheduling.create_priority_class(client.V1PriorityClass(metadata=client.V1ObjectMeta(name=priority), value=1000))
    try:
        core.create_namespaced_service_account(namespace, client.V1ServiceAccount(
            metadata=client.V1ObjectMeta(name="svc-runner")))
        config = full_settings(namespace=namespace)
        service_spec = full_spec(priority)
        deployment = build_deployment(service_spec, config, BASE_URL)
        accepted = apps.create_namespaced_deployment(namespace, deployment, dry_run="All")
        assert accepted.spec.template.spec.priority_class_name == priority
        assert accepted.spec.replicas == 2 and accepted.metadata.owner_references[0].kind == "Pod"
        service = core.create_namespaced_service(namespace, build_service(service_spec, config, "uid-1"), dry_run="All")
        assert [p.protocol for p in service.spec.ports] == ["TCP", "TCP", "UDP"]

        pod = {"apiVersion": "v1", "kind": "Pod", **deployment["spec"]["template"]}
        pod["metadata"] = {**pod["metadata"], "name": "placement-check", "namespace": namespace}
        admitted = core.create_namespaced_pod(namespace, pod, dry_run="All")
        assert admitted.spec.priority == 1000  # the Priority plugin resolved the class
        assert admitted.spec.service_account_name == "svc-runner"
        assert [t.key for t in admitted.spec.tolerations][:3] == ["dedicated", "node.kubernetes.io/unreachable",
                                                                  "nvidia.com/gpu"]

        loose = build_deployment(service_spec, full_settings(namespace=namespace, restricted=False), BASE_URL)
        loose_pod = {"apiVersion": "v1", "kind": "Pod", **loose["spec"]["template"]}
        loose_pod["metadata"] = {**loose_pod["metadata"], "name": "placement-check", "namespace": namespace}
        with pytest.raises(ApiException) as refused:
            core.create_namespaced_pod(namespace, loose_pod, dry_run="All")
        assert refused.value.status == 403 and "restricted" in refused.value.body

        for stored in (apps.list_namespaced_deployment(namespace).items, core.list_namespaced_pod(namespace).items):
            assert stored == []  # dry runs store nothing
    finally:
        scheduling.delete_priority_class(priority)


def test_owned_by_the_jupyter_servers_pod(kube_client: Any, namespace: str) -> None:
    """With ``owner_pod`` set, deleting the Jupyter server's pod (a culled hub server) deletes its services."""
    from kubernetes import client

    apps, core = client.AppsV1Api(kube_client), client.CoreV1Api(kube_client)
    server = core.create_namespaced_pod(namespace, {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-server"},
        "spec": {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                 "containers": [{"name": "server", "image": "registry.example/server:1", "securityContext": {
                     "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}]},
    })
    config = cluster_settings(namespace, owner_pod=OwnerPod(server.metadata.name, server.metadata.uid))
    deployment = apps.create_namespaced_deployment(namespace, build_deployment(spec(), config, BASE_URL))
    core.create_namespaced_service(namespace, build_service(spec(), config, deployment.metadata.uid))
    selector = config.owner_selector()
    assert apps.list_namespaced_deployment(namespace, label_selector=selector).items
    assert core.list_namespaced_service(namespace, label_selector=selector).items
    # never bound to a node, the pod goes at once (no kubelet to wait for)
    core.delete_namespaced_pod(server.metadata.name, namespace)
    wait_for("the Deployment and Service collected", lambda: not (
        apps.list_namespaced_deployment(namespace, label_selector=selector).items
        or core.list_namespaced_service(namespace, label_selector=selector).items), timeout=60)
