"""Benchmark-only Jupyter server extension: the ceilings a proxy inside Jupyter cannot pass.

Loaded into the jupyter-svc benchmark server (never part of the package):

* ``/bench/plain/1k`` and ``/bench/plain/1m``: a bare tornado ``RequestHandler`` answering from
  memory, no authentication, no ETag. No handler of this server, proxy or not, answers faster.
* ``/bench/auth/1k``: the same behind Jupyter's ``@web.authenticated`` + ``@authorized``: what
  Jupyter's own request handling costs before a proxy does anything.
* ``/bench/hop/1k``: a bare handler that makes the one round trip any proxy must make: a fixed
  ``GET`` to nginx (``JUPYTER_SVC_BENCH_NGINX``, its port) on a kept-alive connection, its body
  answered as is. No authentication, no headers passed either way, no HTTP parsing beyond finding
  the Content-Length: the fastest a proxy inside this server can answer a small request.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

BODIES = {"1k": b"k" * 1024, "1m": b"m" * 1024 * 1024}


class PlainHandler(web.RequestHandler):
    def compute_etag(self) -> None:
        return None

    def get(self, size: str) -> None:
        self.write(BODIES[size])


class _Hop(asyncio.Protocol):
    """One kept-alive connection to nginx; answers arrive whole or in pieces, counted by length."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.data = bytearray()
        self.answer: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        end = self.data.find(b"\r\n\r\n")
        if end < 0 or self.answer is None:
            return
        head = bytes(self.data[:end]).lower()
        start = head.index(b"content-length:") + 15
        length = int(head[start:head.index(b"\r\n", start)])
        if len(self.data) >= end + 4 + length:
            body = bytes(self.data[end + 4:end + 4 + length])
            del self.data[:end + 4 + length]
            self.answer.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("nginx closed"))


_idle: list[_Hop] = []


class HopHandler(web.RequestHandler):
    def compute_etag(self) -> None:
        return None

    async def get(self, size: str) -> None:
        hop = _idle.pop() if _idle else None
        if hop is None or hop.transport is None or hop.transport.is_closing():
            port = int(os.environ["JUPYTER_SVC_BENCH_NGINX"])
            _, hop = await asyncio.get_running_loop().create_connection(_Hop, "127.0.0.1", port)
        assert hop.transport is not None
        hop.answer = asyncio.get_running_loop().create_future()
        hop.transport.write(b"GET /%s.bin HTTP/1.1\r\nHost: nginx\r\n\r\n" % size.encode())
        body = await hop.answer
        hop.answer = None
        _idle.append(hop)
        self.write(body)


class AuthenticatedHandler(JupyterHandler):
    auth_resource = "svc"

    def compute_etag(self) -> None:
        return None

    @web.authenticated
    @authorized
    def get(self, size: str) -> None:
        self.write(BODIES[size])


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": "ceiling_ext"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    serverapp.web_app.add_handlers(".*$", [
        (r"/bench/plain/(1k|1m)", PlainHandler),
        (r"/bench/auth/(1k|1m)", AuthenticatedHandler),
        (r"/bench/hop/(1k|1m)", HopHandler),
    ])
