"""The one seam between a ready endpoint on the cluster and the address the proxy connects to.

Inside the cluster the proxy reaches the Service by its DNS name (or its ClusterIP), so the default
resolvers ignore which pod is ready and answer the Service's address. A server outside the cluster
(development) configures its own resolver: a port-forward, a node port, an ingress. Tests map each
ready pod to the loopback process their played kubelet started, and run with ``loopback_only``:
any other answer is refused loudly, so a mistake never sends traffic to a pod or cluster address.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from jupyter_svc.model.errors import SvcError


@dataclass(frozen=True)
class EndpointQuery:
    """A ready endpoint of a service, with what the default resolvers need."""

    service: str  # the jupyter-svc service's name
    object_name: str  # its Deployment's and Service's name
    namespace: str
    address: str  # the ready endpoint's address (a pod IP)
    port: int  # the app's port at that address
    pod: str | None  # the pod behind the endpoint, when the EndpointSlice names it
    dns_name: str  # the Service's cluster DNS name
    cluster_ip: str  # the Service's ClusterIP ("" until known, "None" for a headless one)
    service_port: int  # the Service's port for the app


#: (host, port), or an awaitable of it.
Resolved = tuple[str, int]
Resolver = Callable[[EndpointQuery], Resolved | Awaitable[Resolved]]


class ResolveRefused(SvcError):
    """The resolver failed, or answered an address the backend may not connect to."""

    status_code = 503


def by_dns(query: EndpointQuery) -> Resolved:
    """The Service's cluster DNS name (the proxy runs in the cluster)."""
    return query.dns_name, query.service_port


def by_cluster_ip(query: EndpointQuery) -> Resolved:
    """The Service's ClusterIP (the proxy runs in the cluster, without cluster DNS)."""
    if not query.cluster_ip or query.cluster_ip == "None":
        raise ResolveRefused(f"the Service {query.object_name} has no ClusterIP")
    return query.cluster_ip, query.service_port


BUILT_IN: dict[str, Resolver] = {"dns": by_dns, "cluster_ip": by_cluster_ip}


def load_resolver(value: Any, mode: Literal["dns", "cluster_ip"]) -> Resolver:
    """The configured resolver: a callable, or ``"module:attr"`` / ``"module.attr"`` naming one (a
    class is instantiated without arguments); None: the built-in one for ``mode``."""
    if value is None or value == "":
        return BUILT_IN[mode]
    if isinstance(value, str):
        module, sep, attr = value.partition(":")
        if not sep:
            module, _, attr = value.rpartition(".")
        try:
            value = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError, ValueError) as exc:
            raise ValueError(f"endpoint_resolver {value!r} cannot be imported: {exc}") from None
    if inspect.isclass(value):
        value = value()
    if not callable(value):
        raise ValueError(f"endpoint_resolver {value!r} is not callable")
    resolver: Resolver = value
    return resolver


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def resolve(resolver: Resolver, query: EndpointQuery, loopback_only: bool) -> Resolved:
    """``resolver``'s answer for ``query``; ResolveRefused when it fails, answers nonsense, or
    (``loopback_only``) answers anything outside 127.0.0.0/8 and ::1."""
    try:
        answer = resolver(query)
        if inspect.isawaitable(answer):
            answer = await answer
        host, port = answer
    except ResolveRefused:
        raise
    except Exception as exc:
        raise ResolveRefused(f"endpoint resolver failed for {query.service} ({query.address}:{query.port}): "
                             f"{type(exc).__name__}: {exc}") from None
    if not isinstance(host, str) or not host or not isinstance(port, int) or not 0 < port < 65536:
        raise ResolveRefused(f"endpoint resolver answered {answer!r} for {query.service}: not (host, port)")
    if loopback_only and not is_loopback(host):
        raise ResolveRefused(f"endpoint resolver answered {host}:{port} for {query.service} "
                             f"({query.address}:{query.port}); loopback_only refuses any address but loopback")
    return host, port
