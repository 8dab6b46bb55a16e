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
* ``/bench/authhop/1k``: the same round trip from a Jupyter handler that authenticates and
  authorizes every request as the proxy must (``JupyterHandler.prepare``: host check, identity,
  CORS, XSRF; the authorizer), with the identity remembered per credentials as the proxy does
  (``jupyter_svc/proxy/access.py``), no header rules, no activity tracking: the least a proxy
  that leaves authentication to Jupyter does.
* ``/bench/splicehop/1m``: the same round trip for a large body as the proxy makes it: the head
  read and answered, the body moved socket to socket by splice(2) (``jupyter_svc/upstream/
  splice.py``); no authentication, no header rules: the fastest a proxy in this server passes on
  1 MiB, nginx's own sending included (it shares the two cores).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from tornado import web

from jupyter_svc.proxy import compat
from jupyter_svc.proxy.access import AccessMemo, credentials_key
from jupyter_svc.upstream.splice import Pipes

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


async def round_trip(size: str) -> bytes:
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
    return body


class HopHandler(web.RequestHandler):
    def compute_etag(self) -> None:
        return None

    async def get(self, size: str) -> None:
        self.write(await round_trip(size))


_sockets: list[socket.socket] = []
_pipes = Pipes()


async def _until(readable: int | None, writable: int | None) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = readable if readable is not None else writable
    assert fd is not None
    (loop.add_reader if readable is not None else loop.add_writer)(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        (loop.remove_reader if readable is not None else loop.remove_writer)(fd)


class SpliceHopHandler(web.RequestHandler):
    def compute_etag(self) -> None:
        return None

    async def get(self, size: str) -> None:
        loop = asyncio.get_running_loop()
        request = b"GET /%s.bin HTTP/1.1\r\nHost: nginx\r\n\r\n" % size.encode()
        head = b""
        while b"\r\n\r\n" not in head:  # a kept-alive connection nginx closed: once more on a new one
            sock = _sockets.pop() if _sockets else None
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", int(os.environ["JUPYTER_SVC_BENCH_NGINX"])))
                sock.setblocking(False)
            head = b""
            try:
                await loop.sock_sendall(sock, request)
                while b"\r\n\r\n" not in head and (read := await loop.sock_recv(sock, 4096)):
                    head += read
            except ConnectionError:
                head = b""
            if b"\r\n\r\n" not in head:
                sock.close()
        end = head.index(b"\r\n\r\n") + 4
        lower = head[:end].lower()
        start = lower.index(b"content-length:") + 15
        length = int(lower[start:lower.index(b"\r\n", start)])
        early = head[end:]
        self.set_header("Content-Length", str(length))
        self.flush()
        if early:
            await self.request.connection.write(early)  # type: ignore[attr-defined]
        left = length - len(early)
        socket_fd = compat.splice_target(self, left)
        assert socket_fd is not None
        target = os.dup(socket_fd)  # waited on apart from tornado's registration of the socket
        read_end, write_end, capacity = pipe = _pipes.take()
        held = 0
        while left or held:
            moved = False
            if left and held < capacity:
                try:
                    n = os.splice(sock.fileno(), write_end, min(left, capacity - held), flags=3)
                    if n == 0:
                        raise ConnectionError("nginx closed in the middle of a body")
                    left, held, moved = left - n, held + n, True
                except BlockingIOError:
                    pass
            if held:
                try:
                    n = os.splice(read_end, target, held, flags=3)
                    held, moved = held - n, True
                except BlockingIOError:
                    pass
            if not moved:
                await (_until(sock.fileno(), None) if left and held < capacity else _until(None, target))
        os.close(target)
        _pipes.give(pipe, True)
        compat.count_written(self, length - len(early))
        if b"connection: close" in lower:  # nginx's last answer on this connection (keepalive_requests)
            sock.close()
        else:
            _sockets.append(sock)


_memo = AccessMemo(10.0)


class AuthenticatedHopHandler(JupyterHandler):
    auth_resource = "svc"

    def compute_etag(self) -> None:
        return None

    async def prepare(self) -> None:  # type: ignore[override]
        key = credentials_key(self.request.headers, self.request.host, "token" in self.request.query_arguments)
        known = _memo.user(key)
        if known is not None:
            compat.accept_identity(self, *known)
        await JupyterHandler.prepare(self)
        if known is None:
            _memo.remember_user(key, self.current_user, self.token_authenticated)

    @web.authenticated
    async def get(self, size: str) -> None:
        if not await ensure_async(self.authorizer.is_authorized(self, self.current_user, "execute", "svc")):
            raise web.HTTPError(403)
        self.write(await round_trip(size))


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
        (r"/bench/authhop/(1k|1m)", AuthenticatedHopHandler),
        (r"/bench/splicehop/(1m)", SpliceHopHandler),
    ])
