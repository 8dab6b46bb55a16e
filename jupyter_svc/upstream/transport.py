"""How a connection to an endpoint is opened: TCP or a Unix socket, plain or TLS with the
endpoint's own CA or context. One place for the pool's connections and the WebSocket tunnel's."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_svc.backends.base import Endpoint

P = TypeVar("P", bound=asyncio.BaseProtocol)


@functools.lru_cache(maxsize=64)
def _context_for_ca(ca_file: str | None) -> ssl.SSLContext:
    """One verifying context per CA bundle (None: the system's), made once: loading CAs is slow."""
    return ssl.create_default_context(cafile=ca_file)


def tls_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    """The TLS context for an https endpoint (its own first), None for plain HTTP."""
    if endpoint.scheme != "https":
        return None
    return endpoint.ssl_context or _context_for_ca(endpoint.ca_file)


async def open_connection(endpoint: Endpoint, factory: Callable[[], P],
                          sock: socket.socket | None = None) -> P:
    """Connect ``factory``'s protocol to the endpoint (or over ``sock``, already connected to it);
    OSError / ssl.SSLError as asyncio raises them. The caller bounds the wait."""
    loop = asyncio.get_running_loop()
    tls = tls_context(endpoint)
    kwargs: dict[str, Any] = {"ssl": tls, "server_hostname": endpoint.host if tls else None}
    if sock is not None:
        _, protocol = await loop.create_connection(factory, sock=sock, **kwargs)
    elif endpoint.unix_socket is not None:
        _, protocol = await loop.create_unix_connection(factory, endpoint.unix_socket, **kwargs)
    else:
        _, protocol = await loop.create_connection(factory, endpoint.host, endpoint.port, **kwargs)
    return protocol
