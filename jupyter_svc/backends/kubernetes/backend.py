"""``KubernetesBackend``: each service a Deployment + a ClusterIP Service in one namespace.

Selected with ``c.SvcExtension.default_backend = "kubernetes"`` or ``backend: kubernetes`` in a spec;
its options live here (``c.KubernetesBackend.namespace = ...``). The objects come from the pure
builders (``objects.py``), the writes from ``cluster.py``, every status from the watches' cache
(``cache.py``, ``status.py``). The Deployment restarts its own pods (``supervises_itself``), an
update is its rollout, and its objects outlive the server: the next server adopts them by label.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, ClassVar, Literal, cast

from traitlets import Any as AnyTrait
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, default

from jupyter_svc.backends.base import Backend, Instance, LaunchContext, UpdateStrategy
from jupyter_svc.model.errors import FieldError, SpecInvalid, SvcError
from jupyter_svc.model.spec import DesiredState, ServiceSpec

from .cache import ClusterCache
from .checks import check
from .client import SERVICE_ACCOUNT_DIR, CredentialsError, api_client, in_cluster
from .cluster import Cluster, ClusterError
from .instance import KubernetesInstance, Runtime, apply_spec
from .objects import build_deployment, build_service
from .reflector import ReflectorError
from .resolver import load_resolver
from .settings import MAIN_CONTAINER, SERVICE_KEY, KubernetesSettings, OwnerPod, Toleration

PullPolicy = Literal["Always", "IfNotPresent", "Never"]
Via = Literal["dns", "cluster_ip"]


class KubernetesBackend(Backend):
    """Services as Deployments and Services on a Kubernetes cluster (in-cluster credentials in a pod,
    a kubeconfig elsewhere)."""

    name = "kubernetes"
    supervises_itself: ClassVar[bool] = True
    outlives_server: ClassVar[bool] = True

    namespace = Unicode(help="Namespace the services' objects live in. Default: the pod's own namespace "
                             "when the server runs in a cluster, else 'default'.").tag(config=True)
    owner = Unicode(help="Who the services belong to: the value of the jupyter-svc/owner label on every "
                         "object, which selects this server's objects. Default: the server's user "
                         "($JUPYTERHUB_USER in a hub), else the OS user.").tag(config=True)
    extra_labels = Dict(value_trait=Unicode(), help="More labels on every object (e.g. a hub's "
                        "hub.jupyter.org/username, a cost centre).").tag(config=True)
    owner_pod = Unicode(help="Name of the Jupyter server's own pod in the namespace: every service's objects "
                             "are then owned by it, so deleting the pod (a culled hub server) deletes them. "
                             "Empty: not owned.").tag(config=True)
    gpu_resource = Unicode("nvidia.com/gpu", help="Extended resource name a spec's resources.*.gpu "
                                                  "requests.").tag(config=True)
    service_account = Unicode(None, allow_none=True, help="ServiceAccount of the services' pods (its token "
                              "is mounted); None: no token is mounted.").tag(config=True)
    image_pull_policy = Enum(["Always", "IfNotPresent", "Never"], "IfNotPresent",
                             help="imagePullPolicy of every container.").tag(config=True)
    home_claim = Unicode(None, allow_none=True, help="PersistentVolumeClaim with the user's home, mounted into "
                         "every container at home_mount_path (relative cwd values resolve there).").tag(config=True)
    home_mount_path = Unicode("/home/jovyan", help="Where home_claim is mounted.").tag(config=True)
    home_sub_path = Unicode(None, allow_none=True, help="Folder of home_claim to mount (a claim shared "
                            "by users).").tag(config=True)
    tolerations = List(Dict(), help="Tolerations of every pod: dicts with key, operator ('Equal'/'Exists'), "
                       "value, effect, seconds.").tag(config=True)
    name_prefix = Unicode("svc-", help="Prefix of every object's name.").tag(config=True)
    cluster_domain = Unicode("cluster.local", help="The cluster's DNS domain (Service names, "
                             "dependencies' URLs).").tag(config=True)
    restricted = Bool(True, help="Pod Security 'restricted' contexts on every pod: non-root, no privilege "
                      "escalation, no capabilities, RuntimeDefault seccomp.").tag(config=True)
    kubeconfig = Unicode(None, allow_none=True, help="Kubeconfig file to use; None: the pod's service "
                         "account in a cluster, else $KUBECONFIG or ~/.kube/config.").tag(config=True)
    kube_context = Unicode(None, allow_none=True, help="Context of the kubeconfig to use.").tag(config=True)
    proxy_via = Enum(["dns", "cluster_ip"], "dns", help="How the proxy reaches a service: its Service's "
                     "cluster DNS name or its ClusterIP (the server runs in the cluster). Outside the "
                     "cluster, set endpoint_resolver.").tag(config=True)
    endpoint_resolver = AnyTrait(None, allow_none=True, help="The seam between a ready endpoint and what the "
                                 "proxy connects to: a callable (or 'module:attr' naming one, a class is "
                                 "instantiated) taking an EndpointQuery (service, pod address and port, Service "
                                 "DNS name, ClusterIP) and returning (host, port), possibly awaitable. None: "
                                 "proxy_via decides.").tag(config=True)
    loopback_only = Bool(False, help="Refuse any endpoint the resolver answers outside 127.0.0.0/8 and ::1 "
                         "(tests, development through port-forwards): a mistake fails loudly instead of "
                         "reaching the network.").tag(config=True)
    watch_timeout = Int(60, help="Seconds each watch request lasts before it is resumed.").tag(config=True)
    connect_timeout = Float(30.0, help="Seconds the first list of each watched kind may take at "
                            "start.").tag(config=True)

    @default("namespace")
    def _default_namespace(self) -> str:
        found = SERVICE_ACCOUNT_DIR / "namespace"
        if in_cluster() and found.is_file():
            return found.read_text().strip()
        return "default"

    @default("owner")
    def _default_owner(self) -> str:
        user = self.server.user or os.environ.get("JUPYTERHUB_USER") or ""
        if user:
            return user
        import getpass

        return getpass.getuser()

    def __init__(self, server: Any, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._runtime: Runtime | None = None
        self._opening: asyncio.Lock | None = None

    # ------------------------------------------------------------------------- settings
    def settings(self, owner_pod: OwnerPod | None = None) -> KubernetesSettings:
        """The builders' settings from this backend's options (ValueError names a bad one)."""
        return KubernetesSettings(
            namespace=self.namespace, owner=self.owner, name_prefix=self.name_prefix,
            extra_labels=dict(self.extra_labels), gpu_resource=self.gpu_resource,
            image_pull_policy=cast(PullPolicy, self.image_pull_policy), service_account=self.service_account,
            home_claim=self.home_claim, home_mount_path=self.home_mount_path, home_sub_path=self.home_sub_path,
            owner_pod=owner_pod, cluster_domain=self.cluster_domain,
            tolerations=tuple(Toleration(**t) for t in self.tolerations), restricted=self.restricted,
            readiness_timeout=self.server.readiness_timeout,
        )

    def check(self, spec: ServiceSpec) -> list[FieldError]:
        try:
            return check(spec, self.settings())
        except (ValueError, TypeError) as exc:
            return [FieldError("backend", f"the kubernetes backend is misconfigured: {exc}")]

    def update_needed(self, old: ServiceSpec, new: ServiceSpec) -> bool:
        """The objects differ: whatever reaches the Deployment or the Service (replicas, labels,
        annotations, the readiness probe) rolls out; the rest (description, idle window) does not."""
        settings = self.settings()

        def objects(spec: ServiceSpec) -> tuple[dict[str, Any], dict[str, Any]]:
            running = spec.model_copy(update={"desired_state": DesiredState.ready})
            return build_deployment(running, settings, "/"), build_service(running, settings)

        try:
            return objects(old) != objects(new)
        except SpecInvalid:
            return True

    def update_strategy(self, old: ServiceSpec, new: ServiceSpec) -> UpdateStrategy:
        return UpdateStrategy.rolling  # the same Deployment rolls out; the old pods serve until then

    async def runtime(self) -> Runtime:
        """Credentials, the owner pod and the watches, made on first use (one at a time)."""
        if self._runtime is not None:
            return self._runtime
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._runtime is None:
                self._runtime = await self._open()
        return self._runtime

    async def _open(self) -> Runtime:
        try:
            resolver = load_resolver(self.endpoint_resolver, cast(Via, self.proxy_via))
            settings = self.settings()
        except (ValueError, TypeError) as exc:
            raise SvcError(f"the kubernetes backend is misconfigured: {exc}") from None
        try:
            api = await api_client(self.kubeconfig, self.kube_context)
        except CredentialsError as exc:
            raise SvcError(f"no Kubernetes credentials: {exc}") from None
        cluster = Cluster(api, settings.namespace)
        cache = ClusterCache(api, settings.namespace, settings.owner_selector(), watch_timeout=self.watch_timeout,
                             log=self.log)
        try:
            if self.owner_pod:
                pod = await cluster.get_pod(self.owner_pod)
                if pod is None:
                    raise SvcError(f"owner_pod {self.owner_pod!r} is not a pod in namespace {settings.namespace!r}")
                settings = self.settings(OwnerPod(self.owner_pod, pod["metadata"]["uid"]))
            await cache.start(self.connect_timeout)
        except (ClusterError, ReflectorError, asyncio.TimeoutError, SvcError) as exc:
            await cache.stop()
            await api.close()
            if isinstance(exc, SvcError) and not isinstance(exc, ClusterError):
                raise
            raise SvcError(f"the kubernetes backend cannot watch namespace {settings.namespace!r}: "
                           f"{exc or type(exc).__name__}") from None
        return Runtime(cluster, cache, settings, resolver, self.loopback_only, self.log)

    # ------------------------------------------------------------------------- instances
    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        """Apply the Deployment (the spec's replicas: a wake from zero is this one write) and the Service."""
        runtime = await self.runtime()
        try:
            deployment, service = await apply_spec(runtime, spec, context)
        except ClusterError as exc:
            with contextlib.suppress(ClusterError):  # a Deployment without its Service serves nobody
                await runtime.cluster.scale(runtime.settings.object_name(spec.name), 0)
            raise SvcError(f"the cluster refused {spec.name}: {exc}") from None
        return KubernetesInstance(runtime, spec, context, deployment, service)

    async def adopt(self, spec: ServiceSpec, state: Mapping[str, Any], context: LaunchContext) -> Instance | None:
        """The running Deployment of ``spec`` found by name and label, as it is: nothing is written, no
        pod restarts. None when it is gone or at zero (the lifecycle then starts it)."""
        runtime = await self.runtime()
        name = runtime.settings.object_name(spec.name)
        deployment = runtime.cache.deployment(name)
        if deployment is None or not (deployment.get("spec") or {}).get("replicas"):
            return None
        service = await runtime.cluster.get_service(name)
        if service is None:  # the Deployment alone: put its Service back (this changes no pod)
            service = await runtime.cluster.apply(build_service(spec, runtime.settings, deployment["metadata"]["uid"]))
        return KubernetesInstance(runtime, spec, context, deployment, service)

    async def cleanup_orphans(self, known: Collection[str]) -> int:
        """Delete this server's Deployments and Services whose service has no stored spec."""
        runtime = await self.runtime()
        owned = await runtime.cluster.list_owned(runtime.settings.owner_selector())
        orphans = {obj["metadata"]["name"] for objects in owned.values() for obj in objects
                   if (obj["metadata"].get("labels") or {}).get(SERVICE_KEY) not in known}
        for name in sorted(orphans):
            self.log.warning("jupyter-svc: deleting %s/%s: it has this server's labels and no stored spec",
                             runtime.settings.namespace, name)
            await runtime.cluster.delete(name)
        return len(orphans)

    async def delete(self, name: str) -> None:
        runtime = await self.runtime()
        await runtime.cluster.delete(runtime.settings.object_name(name))

    # ------------------------------------------------------------------------- logs
    def _newest_pod(self, runtime: Runtime, name: str, container: str | None) -> str | None:
        """The newest pod on a node (one still unscheduled has no logs to read); SpecInvalid naming
        ``container`` when it is none of that pod's containers."""
        pods = {n: p for n, p in runtime.cache.pods_of(runtime.settings.object_name(name)).items()
                if (p.get("spec") or {}).get("nodeName")}
        newest = max(pods, key=lambda n: pods[n]["metadata"].get("creationTimestamp", ""), default=None)
        if newest is not None and container is not None:
            spec = pods[newest]["spec"]
            names = [c["name"] for key in ("containers", "initContainers") for c in spec.get(key) or ()]
            if container not in names:
                raise SpecInvalid("invalid query", [FieldError(
                    "container", f"{container!r} is not a container of {name}'s pods: {', '.join(names)}")])
        return newest

    async def log_tail(self, name: str, lines: int, container: str | None = None) -> list[str]:
        """The newest pod's last ``lines`` lines (of ``container``: a sidecar, an init step; the app's by default)."""
        runtime = await self.runtime()
        pod = self._newest_pod(runtime, name, container)
        if pod is None:
            return []
        try:
            return await runtime.cluster.log_lines(pod, container or MAIN_CONTAINER, lines)
        except ClusterError as exc:
            return [f"(no logs from pod {pod}: {exc})"]

    async def follow_logs(self, name: str, container: str | None = None) -> AsyncIterator[str]:
        """The newest pod's lines as it prints them from now on (``log_tail`` gives those before), until it ends."""
        runtime = await self.runtime()
        pod = self._newest_pod(runtime, name, container)
        if pod is None:
            return
        try:
            async for line in runtime.cluster.follow_log(pod, container or MAIN_CONTAINER, tail=0):
                yield line
        except ClusterError as exc:
            yield f"(no logs from pod {pod}: {exc})"

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if runtime is not None:
            for task in list(runtime.tasks):
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await runtime.cache.stop()
            await runtime.cluster.api.close()

