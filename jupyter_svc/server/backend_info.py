"""What each backend can run, for clients that build forms (the lab panel hides or marks the
fields a backend cannot honour).

The backends' own ``check`` stays the one source of that rule: it is asked about a probe spec
that sets every field some backend may refuse, and the fields it names are the answer.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jupyter_svc.backends.base import Backend
from jupyter_svc.model.spec import Container, ResourceAmounts, Resources, ServiceSpec, Volume
from jupyter_svc.services.manager import ServiceManager


@functools.cache
def _probe() -> ServiceSpec:
    return ServiceSpec(
        name="probe", command=["probe"], image="probe", image_pull_secrets=["probe"],
        volumes=[Volume(claim="probe", mount_path="/probe")], node_selector={"probe": "probe"},
        priority_class="probe", sidecars=[Container(name="probe", command=["probe"])],
        init=[Container(name="probe", image="probe")], replicas=2,
        resources=Resources(limits=ResourceAmounts(cpu="1", memory="1Gi")),
    )


def unsupported_fields(backend: Backend) -> list[str]:
    """Dotted spec paths (list indices dropped: ``init.image``) that ``backend`` refuses."""
    return sorted({re.sub(r"\[\d+\]", "", error.field) for error in backend.check(_probe())})


def backends_document(manager: ServiceManager) -> dict[str, Any]:
    return {
        "default": manager.default_backend,
        "backends": [{"name": name, "unsupported": unsupported_fields(backend),
                      "unix_sockets": backend.prefers_unix_sockets}
                     for name, backend in sorted(manager.backends.items())],
    }
