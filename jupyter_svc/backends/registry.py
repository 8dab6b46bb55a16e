"""Which backend classes exist: the ``jupyter_svc.backends`` entry-point group.

A backend is found by name and its module imported only when a server is configured with it, so
``kubernetes`` (registered by this package) imports ``kubernetes_asyncio`` only where it is used.
A third-party package registers its own class in the same group and needs nothing from here.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from jupyter_svc.model.errors import SvcError

from .base import Backend

GROUP = "jupyter_svc.backends"
#: This package's own entries, as pyproject.toml registers them (tests/test_backend_registry.py
#: checks they agree). Used when the installed metadata predates them (an older editable install).
BUILTIN = {
    "local": "jupyter_svc.backends.local:LocalBackend",
    "kubernetes": "jupyter_svc.backends.kubernetes.backend:KubernetesBackend",
}


def available() -> dict[str, EntryPoint]:
    """Every registered backend by name (nothing imported yet)."""
    found = {name: EntryPoint(name, value, GROUP) for name, value in BUILTIN.items()}
    found.update({ep.name: ep for ep in entry_points(group=GROUP)})
    return found


def backend_class(name: str) -> type[Backend]:
    """The class registered as ``name``, imported now; SvcError naming what is wrong."""
    entry = available().get(name)
    if entry is None:
        raise SvcError(f"no backend named {name!r} is installed (entry points {GROUP!r}: "
                       f"{', '.join(sorted(available()))})")
    try:
        cls = entry.load()
    except ImportError as exc:
        raise SvcError(f"the backend {name!r} ({entry.value}) cannot be imported: {exc}; is its extra "
                       f"installed (pip install \"jupyter-svc[{name}]\")?") from exc
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise SvcError(f"the backend {name!r} ({entry.value}) is not a jupyter_svc Backend class")
    return cls
