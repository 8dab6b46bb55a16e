"""The ports a service's container listens on: the spec's, with the zeros given fixed numbers.

Locally ``port: 0`` picks a free port on the machine; a pod has a network of its own, so 0 means
``default_port`` for the app, and the next unused numbers above the app's port for extra ports.
"""

from __future__ import annotations

from dataclasses import dataclass

from jupyter_svc.model.spec import ServiceSpec

from .settings import KubernetesSettings

#: Name of the app's port, in the container and in the Service (the readiness probe targets it).
MAIN_PORT_NAME = "http"


@dataclass(frozen=True)
class ContainerPorts:
    main: int
    extra: dict[str, int]  # port name -> number, in the spec's order

    def placeholders(self, spec: ServiceSpec, base_url: str) -> dict[str, str]:
        """What ``{port}``, ``{base_url}``, ``{name}`` and ``{ports.NAME}`` become, as the local backend fills them."""
        values = {"port": str(self.main), "base_url": base_url, "name": spec.name}
        values.update({f"ports.{name}": str(number) for name, number in self.extra.items()})
        return values


def container_ports(spec: ServiceSpec, settings: KubernetesSettings) -> ContainerPorts:
    main = spec.port or settings.default_port
    used = {main, settings.service_port, *(p.port for p in spec.ports if p.port)}
    candidate = main + 1
    extra: dict[str, int] = {}
    for port in spec.ports:
        if port.port:
            extra[port.name] = port.port
            continue
        while candidate in used:
            candidate = candidate + 1 if candidate < 65535 else 1024  # wraps past the privileged ports
        extra[port.name] = candidate
        used.add(candidate)
    return ContainerPorts(main, extra)
