"""The Kubernetes backend (issue 15): a service's objects, built from its spec, and the parts that talk
to the apiserver.

Pure, split as KubeSpawner is: ``settings`` (where and for whom), ``names`` (the apiserver's naming
rules), ``checks`` (what a Deployment cannot do, by field), ``ports``, ``pod`` (the pod template)
and ``objects`` (the Deployment and the Service); these are what this package exports, and they
import no client. I/O (``kubernetes_asyncio``, the ``kubernetes`` extra), each imported from its own
module: ``client`` (credentials: in-cluster or kubeconfig) and ``reflector`` (list + watch of one
kind into a cache, resumed from its resource version, relisting on 410 Gone). ``rbac.yaml`` is the
Role all of it needs (``jupyter svc rbac`` prints it).

The backend itself, ``backend.KubernetesBackend`` (entry point ``kubernetes``), is also imported from
its own module: ``cache`` (the four reflectors the statuses are read from), ``status`` (pure: the
state from the cached objects), ``cluster`` (the writes and pod logs), ``resolver`` (the seam between
a ready endpoint and what the proxy connects to) and ``instance`` (one Deployment + Service).
"""

from .checks import check
from .objects import build_deployment, build_service
from .settings import KubernetesSettings, OwnerPod, Toleration

__all__ = ["KubernetesSettings", "OwnerPod", "Toleration", "build_deployment", "build_service", "check"]
