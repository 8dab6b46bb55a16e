"""The backend interface, second version: what the manager, lifecycle and proxy may ask of a place
where services run, and nothing about how (a local process tree, a Deployment + Service).

A :class:`Backend` is a traitlets ``LoggingConfigurable`` found through the ``jupyter_svc.backends``
entry-point group, its options on its own class (``c.LocalBackend.port_range``). It turns a spec
into an :class:`Instance`, which says where it is reached (:class:`Endpoint`, with its transport),
when it is ready, when it has gone, what went wrong (when it supervises itself), what to keep so
that a restarted server can adopt it, and how to stop it. Each decision a backend owns is declared
here once: who restarts (``supervises_itself``), how an update runs (``update_strategy``), whether a
failed start is worth another try (``Instance.retryable``, ``start_attempts``).
"""

from __future__ import annotations

import abc
import enum
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit

from traitlets import MetaHasTraits
from traitlets.config import LoggingConfigurable

from jupyter_svc.model.errors import FieldError, SpecInvalid, SvcError
from jupyter_svc.model.spec import Readiness, ServiceSpec

from .http_ready import probe_until_ready

#: The Host header sent over a Unix socket (there is no host; apps still want one).
UNIX_SOCKET_HOST = "localhost"


@dataclass(frozen=True)
class Endpoint:
    """Where the proxy sends traffic for one service, and over what transport.

    Hashable: the upstream pool keys its connections by :attr:`transport` (everything that decides
    which connection may be reused), so two endpoints that differ only in ``path`` or ``headers``
    share connections, and an endpoint with a CA of its own never reuses another's TLS session.
    """

    host: str
    port: int
    scheme: str = "http"  # "http" or "https"
    path: str = ""  # prefix of an external service's URL, without trailing '/'
    #: connect to this Unix socket instead of host:port (HTTP over it, or HTTPS with ``scheme``)
    unix_socket: str | None = None
    #: CA bundle (a PEM file) that verifies an https endpoint instead of the system's
    ca_file: str | None = None
    #: full control of TLS (client certificates, pinning); wins over ``ca_file``
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    #: headers added to every request to it (e.g. an app's own token), after the proxy's own
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def transport(self) -> tuple[Any, ...]:
        """What a pooled connection is keyed by: where and how it connects."""
        return (self.scheme, self.host, self.port, self.unix_socket, self.ca_file, self.ssl_context)

    @property
    def authority(self) -> str:
        """The Host header the service expects."""
        if self.unix_socket is not None:
            return UNIX_SOCKET_HOST
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base(self) -> str:
        """A URL naming it (status, messages); ``http+unix://<quoted path>`` for a socket."""
        if self.unix_socket is not None:
            return f"{self.scheme}+unix://{quote(self.unix_socket, safe='')}{self.path}"
        return f"{self.scheme}://{self.authority}{self.path}"


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


@dataclass(frozen=True)
class ServerInfo:
    """Facts about the server a backend runs in (not options: those are the backend's traits)."""

    state_dir: Path  # the server's state folder; a backend keeps its files under it
    runtime_dir: Path  # private to the user (Jupyter's runtime dir): sockets, short-lived files
    root_dir: str | None = None  # the server's root_dir: where a spec without cwd runs
    base_url: str = "/"
    readiness_timeout: float = 60.0  # the server's default for a spec that sets none
    user: str = ""  # who the server runs for (labels, ownership); "" when unknown


class NotReady(SvcError):
    """The instance exited, or never became ready as the spec asks, within the time it had."""


#: One HTTP GET of a path at an endpoint, through the proxy's own pool (the first held request then
#: reuses that connection): the response status, or None while nothing answers.
HttpProbe = Callable[[Endpoint, str], Awaitable["int | None"]]


@dataclass(frozen=True)
class ReadyCheck:
    """What an instance is told when asked to become ready (:meth:`Instance.wait_ready`)."""

    readiness: Readiness  # the spec's probe: path, accepted statuses, interval
    timeout: float  # seconds it has; NotReady after that
    http_probe: HttpProbe  # the server's probe, for instances that are ready when they answer HTTP
    prefix: str = ""  # where the app's root is: its base URL when it serves under it (rewrite_path off)


@dataclass(frozen=True)
class Health:
    """One report of a self-supervising instance (:meth:`Instance.health`): it serves, or it does
    not and why (pod status: CrashLoopBackOff with the last termination reason and log lines)."""

    ok: bool
    reason: str = ""  # short and stable: "CrashLoopBackOff", "ImagePullBackOff", "OOMKilled", "Exited"
    message: str = ""  # for a person: what happened, what to fix
    log_lines: tuple[str, ...] = ()  # the last lines it printed, when the failure has some
    restarts: int | None = None  # the backend's own count of restarts, when it keeps one


class UpdateStrategy(str, enum.Enum):
    """How a running service takes a new spec; the backend decides (:meth:`Backend.update_strategy`).
    Whatever the strategy, a new version that fails leaves the previous one serving (or restored)."""

    #: start a new instance beside the old one, switch traffic once it is ready, then stop the old
    side_by_side = "side_by_side"
    #: stop the old instance first (it holds what the new one needs: a fixed port), then start; on
    #: failure the old spec is started again
    stop_then_start = "stop_then_start"
    #: the running instance updates itself (:meth:`Instance.roll_out`: a Deployment's rollout, the
    #: old ReplicaSet serving until the new one is ready, rolled back by the instance on failure)
    rolling = "rolling"


class Instance(abc.ABC):
    """One running version of a service. Nothing here blocks: status comes from the instance's
    own cache (a process's exit code, a watch's last event), never from a call on the request path."""

    endpoint: Endpoint
    #: what :meth:`inspect_ready` found, kept by the lifecycle and shown in the ready status
    warnings: tuple[str, ...] = ()
    #: True when :meth:`inspect_ready` may refuse the instance, so readiness waits for it; else it
    #: runs once the instance serves (it only warns, and may cost tens of ms: /proc scans)
    inspection_gates_readiness: bool = False
    #: replicas that serve, for the status (a Deployment's available pods); 1 for a single process
    ready_replicas: int = 1
    #: after a failed start (NotReady), True when another start may well succeed: the lifecycle then
    #: tries again, up to ``Backend.start_attempts`` (local: another process took its picked port)
    retryable: bool = False

    @abc.abstractmethod
    async def poll(self) -> int | None:
        """None while running, otherwise the exit code (negative: killed by that signal)."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """Return the exit code once the instance is gone (for a self-supervising one: gone for
        good, e.g. its objects deleted behind the server's back, not one crash of many)."""

    @abc.abstractmethod
    async def stop(self, grace: float) -> int:
        """Ask it to stop, force it after ``grace`` seconds; return the exit code."""

    async def wait_ready(self, check: ReadyCheck) -> None:
        """Return once it serves as the spec's readiness asks; NotReady if it exits first or
        ``check.timeout`` passes. By default the server's HTTP probe at the endpoint, fast at
        first then backing off; a backend may instead resolve it from a watch (a ready endpoint
        in an EndpointSlice)."""
        await probe_until_ready(self, check)

    async def inspect_ready(self) -> list[str]:
        """Once ready: warnings for its status (e.g. reachable without Jupyter's login); SvcError
        refuses the instance."""
        return []

    def state(self) -> dict[str, Any]:
        """What the server stores with the service so that, after a restart, ``Backend.adopt``
        finds this instance again (JSON-serialisable; like JupyterHub's ``get_state``)."""
        return {}

    def health(self) -> AsyncIterator[Health]:
        """For a backend that ``supervises_itself``: each change of health, until the instance
        is stopped or gone. The lifecycle turns a not-ok report into the ``failed`` state (and an ok
        one back into ``ready``); it never restarts such an instance itself."""
        return _no_reports()

    async def roll_out(self, spec: ServiceSpec, context: LaunchContext, check: ReadyCheck) -> None:
        """For ``UpdateStrategy.rolling``: move this instance to ``spec`` and return once the new
        version is ready; on failure, roll back (the previous version keeps serving) and raise
        SvcError saying why. Endpoint and state may change; the lifecycle reads them after.
        With the spec and context it runs already, a person's restart: every replica replaced in
        place, new ones first (a Deployment's rollout restart)."""
        raise SvcError(f"{type(self).__name__} does not update in place")


async def _no_reports() -> AsyncIterator[Health]:
    return
    yield  # pragma: no cover - makes this an async generator


def no_containers(backend: str) -> SpecInvalid:
    """The refusal of a ``container`` by a backend with one log per service (a 422 naming it)."""
    return SpecInvalid("invalid query", [FieldError(
        "container", f"the {backend} backend keeps one log per service: there are no containers to choose")])


class BackendMeta(MetaHasTraits, abc.ABCMeta):
    """Traits and abstract methods on one class."""


class Backend(LoggingConfigurable, metaclass=BackendMeta):
    """A place where services run; one object per configured backend, made by the server with
    ``parent`` (its options come from the config as any traitlets class's) and ``server``."""

    #: the name specs use (``backend: local``); the entry point's name when loaded through one
    name: str = ""
    #: True when it restarts its own instances (a Deployment restarts its pods): the lifecycle then
    #: does not restart on exit but follows :meth:`Instance.health` into the ``failed`` state
    supervises_itself: ClassVar[bool] = False
    #: how many starts the lifecycle tries while the failed instance says ``retryable``
    start_attempts: ClassVar[int] = 1
    #: True when its instances keep running while the server is down (cluster objects): shutdown
    #: then leaves them alone and the next start adopts them; False: shutdown stops every instance
    outlives_server: ClassVar[bool] = False

    def __init__(self, server: ServerInfo, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server = server

    def check(self, spec: ServiceSpec) -> list[FieldError]:
        """Fields of ``spec`` this backend cannot honour; an empty list when it can run it."""
        return []

    @property
    def prefers_unix_sockets(self) -> bool:
        """True when templates should make apps listen on ``{unix_socket}`` rather than ``{port}``
        (told to clients in GET backends); only a backend that fills ``{unix_socket}`` says so."""
        return False

    def update_needed(self, old: ServiceSpec, new: ServiceSpec) -> bool:
        """True when a running instance of ``old`` must change to run ``new``; the other changes
        apply in place (a description, the idle window). By default: a field of
        :meth:`ServiceSpec.runtime_view` changed. A backend whose objects carry more of the spec (a
        Deployment's replicas, labels, readiness probe) says so here."""
        return old.runtime_view() != new.runtime_view()

    def update_strategy(self, old: ServiceSpec, new: ServiceSpec) -> UpdateStrategy:
        """How a running instance of ``old`` takes ``new`` (see :class:`UpdateStrategy`)."""
        return UpdateStrategy.stop_then_start

    @abc.abstractmethod
    async def start(self, spec: ServiceSpec, context: LaunchContext) -> Instance:
        """Launch a new instance; returns once it exists (the lifecycle then awaits its
        ``wait_ready``)."""

    async def adopt(self, spec: ServiceSpec, state: Mapping[str, Any], context: LaunchContext) -> Instance | None:
        """After a server restart: the instance of ``spec`` still running, found from the
        ``state`` its ``Instance.state()`` gave (or by label), without restarting it; None to start
        anew (nothing left, or this backend cannot adopt: the local one)."""
        return None

    async def cleanup_orphans(self, known: Collection[str]) -> int:
        """Remove what this backend runs for this server for services not in ``known`` (a server
        that died between deleting a spec and its objects); how many. Called once at start,
        after adoption, with the state folder locked."""
        return 0

    @abc.abstractmethod
    async def log_tail(self, name: str, lines: int, container: str | None = None) -> list[str]:
        """The last ``lines`` lines the service printed. ``container``: one of its containers (a
        pod's sidecar or init step) where the backend runs several; one that runs a single stream
        per service refuses any (:func:`no_containers`). The server passes it only when asked."""

    @abc.abstractmethod
    def follow_logs(self, name: str, container: str | None = None) -> AsyncIterator[str]:
        """Lines as they are printed, until the consumer stops iterating (``container``: as for
        :meth:`log_tail`)."""

    async def delete(self, name: str) -> None:
        """Forget everything kept for ``name`` (logs, folders, sockets); called after its last stop."""

    async def stop_leftovers(self, grace: float) -> int:
        """Stop what a previous server left running that it cannot adopt; how many. Called once
        at start, before adoption, with the state folder locked."""
        return 0

    async def close(self) -> None:
        """Release what the backend holds when the server shuts down (after its instances were
        stopped, unless it ``outlives_server``)."""


__all__ = [
    "Backend",
    "Endpoint",
    "Health",
    "HttpProbe",
    "Instance",
    "LaunchContext",
    "NotReady",
    "ReadyCheck",
    "ServerInfo",
    "UpdateStrategy",
    "endpoint_of_url",
    "no_containers",
]
