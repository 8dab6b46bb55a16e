"""The Kubernetes backend (issue 15): a service's objects, built from its spec, and the parts that talk
to the apiserver.

Pure, split as KubeSpawner is: ``settings`` (where and for whom), ``names`` (the apiserver's naming
rules), ``checks`` (what a Deployment cannot do, by field), ``ports``, ``pod`` (the pod template)
and ``objects`` (the Deployment and the Service); these are what this package exports, and they
import no client. I/O (``kubernetes_asyncio``, the ``kubernetes`` extra), imported from its own
module: ``client`` (credentials: in-cluster or kubeconfig) and ``reflector`` (list + watch of one
kind into a cache, resumed from its resource version, relisting on 410 Gone). ``rbac.yaml`` is the
Role all of it needs (``jupyter svc rbac`` prints it).

Next: the backend itself (server-side apply, scale subresource, rollout restart, pod logs,
adoption by label, readiness from the EndpointSlice reflector), plugged in through the backend
interface's second version (issue 15, part 1).
"""

from .checks import check
from .objects import build_deployment, build_service
from .settings import KubernetesSettings, OwnerPod, Toleration

__all__ = ["KubernetesSettings", "OwnerPod", "Toleration", "build_deployment", "build_service", "check"]
