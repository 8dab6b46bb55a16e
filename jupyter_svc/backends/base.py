"""The backend interface: as small as JupyterHub's Spawner (start, poll, wait, stop).

A backend turns a spec into an :class:`Instance`. The manager never asks how: a local process
group and a Kubernetes Deployment + Service both answer with an :class:`Endpoint` the proxy can
reach, an exit (or failure) it can wait for, and a way to stop.
"""

from __future__ import annotations

import abc
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from jupyter_svc.model.errors import FieldError
from jupyter_svc.model.spec import ServiceSpec


@dataclass(frozen=True)
class Endpoint:
    """Where the proxy sends traffic for one service."""

    host: str
    port: int
    scheme: str = "http"
    path: str = ""  # prefix of an external service's URL, without trailing '/'

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"


@functools.lru_cache(maxsize=1024)
def endpoint_of_url(url: str) -> Endpoint:
    """Where an external service's URL points (parsed once per URL, not per request)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return Endpoint(parts.hostname or "", port, parts.scheme, parts.path.rstrip("/"))


@dataclass(frozen=True)
class LaunchContext:
    """What the manager fills in for the templated fields of a spec."""

    base_url: str  # the full prefix the app is served under: /<server base>/svc/<name>/
    env: dict[str, str] = field(default_factory=dict)  # extra env (dependencies' URLs, ...)


class Instance(abc.ABC):
    """One running version of a service."""

    endpoint: Endpoint
    #: what :meth:`inspect_ready` found, kept by the lifecycle and shown in the ready status
    warnings: tuple[str, ...] = ()
    #: True when :meth:`inspect_ready` may refuse the instance, so readiness waits for it; else it
    #: runs once the instance serves (it only warns, and may cost tens of ms: /proc scans)
    inspection_gates_readiness: bool = False

    @abc.abstractmethod
    def poll(self) -> int | None:
        """None while running, otherwise the exit code (negative: killed by that signal)."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Return the exit code once the instance is gone."""

    @abc.abstractmethod
    async def stop(self, grace: float) -> int:
        """Ask it to stop, force it after ``grace`` seconds; return the exit code."""

    async def inspect_ready(self) -> list[str]:
        """Once its readiness probe passes: warnings for its status (e.g. reachable without
        Jupyter's login); SvcError refuses the instance."""
        return []


class Backend(abc.ABC):
    """A place where services run."""

    name: str = ""

    def check(self, spec: ServiceSpec) -> list[FieldError]:
        """Fields of ``spec`` this backend cannot honour; an empty list when it can run it."""
        return []

    @abc.abstractmethod
    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        """Launch a new instance; returns once it exists (readiness is the manager's job)."""

    @abc.abstractmethod
    def log_tail(self, name: str, lines: int) -> list[str]:
        """The last ``lines`` lines the service printed."""

    @abc.abstractmethod
    def follow_logs(self, name: str) -> AsyncIterator[str]:
        """Lines as they are printed, until the consumer stops iterating."""

    async def delete(self, name: str) -> None:  # noqa: B027 - optional hook
        """Forget everything kept for ``name`` (logs, folders); called after its last stop."""

    async def stop_leftovers(self, grace: float) -> int:
        """Stop what a previous server left running (it died without stopping it); how many.
        Called once at start, with the state folder locked."""
        return 0

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend holds when the server shuts down."""
