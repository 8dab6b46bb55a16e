"""The checks a spec passes before the manager applies it: the model, this server's backends,
dependencies and their cycles (so bad input fails fast and changes nothing)."""

from __future__ import annotations

import graphlib
from typing import Any

from pydantic import ValidationError

from jupyter_svc.backends.base import Backend
from jupyter_svc.model.errors import FieldError, SpecInvalid, from_validation_error
from jupyter_svc.model.spec import ServiceSpec


class SpecChecks:
    """The manager's validation, apart from its operations; reads only what the manager holds."""

    backends: dict[str, Backend]
    default_backend: str
    services: dict[str, Any]  # name -> ManagedService

    def parse(self, data: Any, prefix: str = "") -> ServiceSpec:
        try:
            return ServiceSpec.model_validate(data)
        except ValidationError as exc:
            raise SpecInvalid("invalid service spec", from_validation_error(exc, prefix)) from None

    def validate(self, spec: ServiceSpec, known: set[str] | None = None, prefix: str = "") -> None:
        """Checks that need more than the model: the backend's abilities, dependencies."""
        where = (prefix + ".") if prefix else ""
        errors: list[FieldError] = []
        backend_name = spec.backend or self.default_backend
        backend = self.backends.get(backend_name)
        if backend is None:
            errors.append(FieldError(f"{where}backend", f"unknown backend {backend_name!r}; "
                                     f"available: {', '.join(sorted(self.backends))}"))
        elif spec.url is None:
            errors += [FieldError(where + e.field, e.message) for e in backend.check(spec)]
        names = known if known is not None else set(self.services)
        for i, dep in enumerate(spec.depends_on):
            if dep not in names and dep != spec.name:
                errors.append(FieldError(f"{where}depends_on[{i}]", f"no service named {dep!r}"))
        if errors:
            raise SpecInvalid(f"service {spec.name!r} cannot run here", errors)

    def check_cycles(self, specs: dict[str, ServiceSpec]) -> None:
        """A 422 naming the cycle if ``depends_on`` loops (``a -> b -> a``: a depends on b, ...)."""
        try:
            graphlib.TopologicalSorter({name: spec.depends_on for name, spec in specs.items()}).prepare()
        except graphlib.CycleError as exc:
            cycle = exc.args[1]  # each node a dependency of the next, the first one repeated last
            raise SpecInvalid("dependency cycle", [FieldError("depends_on", " -> ".join(reversed(cycle)))]) from None
