"""The checks a spec passes before the manager takes it: the model's, the backend's, the
dependencies', JSON serialisation (what cannot be sent back is never stored) and, for an
external URL, that it is not the Jupyter server itself."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from jupyter_svc.backends.base import Backend
from jupyter_svc.model.errors import FieldError, SpecInvalid, from_validation_error
from jupyter_svc.model.spec import ServiceSpec

from .self_address import ServerAddress


def parse_spec(data: Any, prefix: str = "") -> ServiceSpec:
    try:
        return ServiceSpec.model_validate(data)
    except ValidationError as exc:
        raise SpecInvalid("invalid service spec", from_validation_error(exc, prefix)) from None


def check_spec(spec: ServiceSpec, backends: Mapping[str, Backend], default_backend: str, known: set[str],
               prefix: str = "") -> None:
    """Checks that need more than the model: the backend's abilities, dependencies."""
    where = (prefix + ".") if prefix else ""
    errors: list[FieldError] = []
    backend_name = spec.backend or default_backend
    backend = backends.get(backend_name)
    if backend is None:
        errors.append(FieldError(f"{where}backend", f"unknown backend {backend_name!r}; "
                                 f"available: {', '.join(sorted(backends))}"))
    elif spec.url is None:
        errors += [FieldError(where + e.field, e.message) for e in backend.check(spec)]
    for i, dep in enumerate(spec.depends_on):
        if dep not in known and dep != spec.name:
            errors.append(FieldError(f"{where}depends_on[{i}]", f"no service named {dep!r}"))
    try:  # what cannot be sent back (the list, the events) is never stored
        spec.model_dump_json()
    except (PydanticSerializationError, ValueError) as exc:
        errors.append(FieldError(prefix or "spec", f"cannot be stored as JSON: {exc}"))
    if errors:
        raise SpecInvalid(f"service {spec.name!r} cannot run here", errors)


async def check_url(spec: ServiceSpec, server: ServerAddress, prefix: str = "") -> list[FieldError]:
    """An external URL must not be the Jupyter server itself (its requests would loop)."""
    if spec.url is None or not await server.is_url_of_server(spec.url):
        return []
    return [FieldError(f"{prefix}.url" if prefix else "url",
                       f"{spec.url} is this Jupyter server itself: its requests would loop through the proxy")]


def check_cycles(specs: dict[str, ServiceSpec]) -> None:
    """A 422 naming the cycle if ``depends_on`` loops (``a -> b -> a``: a depends on b, ...)."""
    try:
        graphlib.TopologicalSorter({name: spec.depends_on for name, spec in specs.items()}).prepare()
    except graphlib.CycleError as exc:
        cycle = exc.args[1]  # each node a dependency of the next, the first one repeated last
        raise SpecInvalid("dependency cycle", [FieldError("depends_on", " -> ".join(reversed(cycle)))]) from None
