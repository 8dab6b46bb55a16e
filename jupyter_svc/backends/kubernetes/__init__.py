"""The Kubernetes backend (issue 15), first slice: a service's objects, built from its spec.

What is here is pure, split as KubeSpawner is: ``settings`` (where and for whom), ``names`` (the
apiserver's naming rules), ``checks`` (what a Deployment cannot do, by field), ``ports``, ``pod``
(the pod template) and ``objects`` (the Deployment and the Service). No module here does I/O or
reads a client configuration.

Next: a reflector that owns list + watch of this server's objects (resumed from its resource
version, relisting on 410 Gone) and keeps the status the backend answers from; then the backend
itself (server-side apply, scale subresource, rollout restart, pod logs, adoption by label),
plugged in through the backend interface's second version (issue 15, part 1).
"""

from .checks import check
from .objects import build_deployment, build_service
from .settings import KubernetesSettings, OwnerPod, Toleration

__all__ = ["KubernetesSettings", "OwnerPod", "Toleration", "build_deployment", "build_service", "check"]
