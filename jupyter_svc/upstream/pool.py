"""The proxy's one HTTP/1.1 client: a pool of keep-alive connections per service endpoint.

Why not aiohttp: its client cost ~250 us of CPU per request here and one coroutine hop per body
chunk (benchmarks/README.md). A proxy needs less than a general client: send a head, stream a
body, have llhttp read the answer, hand each body chunk on as it is read (connection.py). No
cookies, no redirects, no decompression, no per-request objects beyond an :class:`Exchange`.
This module decides which connection a request gets: an idle one, a new one (a few at a time per
endpoint), a second try when a reused one turns out closed; and it closes those left idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import sys
from collections import deque
from collections.abc import AsyncIterable
from typing import Any

from jupyter_svc.backends.base import Endpoint

from .connection import Connection, Exchange, Sink, UpstreamError
from .read_buffers import ReadBuffers
from .splice import Pipes
from .transport import open_connection

#: What connections are pooled by: ``Endpoint.transport`` (scheme, host, port, socket, TLS).
Key = tuple[Any, ...]

__all__ = ["Exchange", "PoolBusy", "Sink", "UpstreamError", "UpstreamPool"]

#: New connections opened at the same time to one endpoint (see UpstreamPool._connect_gated).
CONNECTS_AT_ONCE = 4


class PoolBusy(UpstreamError):
    """No connection came free within the pool's wait: the proxy answers 503 with Retry-After."""


class _Slots:
    """A count of connections in use with FIFO waiters; a freed slot goes straight to the first
    waiter (no newcomer slips in between), and one handed to a waiter that just gave up is
    passed on, never lost."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        if self.used < self.limit and not self.waiters:
            self.used += 1
            return True
        return False

    async def take(self) -> None:
        if self.try_take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()  # handed to us as we gave up: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self.waiters.remove(waiter)
            raise

    def give(self) -> None:
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # handed over: ``used`` stays the same
                return
        self.used -= 1

    @property
    def idle(self) -> bool:
        return self.used == 0 and not self.waiters


class UpstreamPool:
    """Keep-alive connections per transport (``Endpoint.transport``: scheme, host, port, Unix socket,
    TLS): at most ``limit`` busy at once in all, and
    ``per_endpoint`` to one service, so that one busy service (a few hundred event streams) gets
    503s while the others keep answering. A request waits ``wait_timeout`` at most for a slot:
    a wait without end held every other service hostage to a loop or a flood."""

    def __init__(self, limit: int = 512, keepalive: float = 30.0, connect_timeout: float = 10.0,
                 per_endpoint: int = 256, wait_timeout: float = 10.0) -> None:
        self.keepalive, self.connect_timeout = keepalive, connect_timeout
        self.limit, self.per_endpoint, self.wait_timeout = limit, min(per_endpoint, limit), wait_timeout
        self._slots = _Slots(limit)
        self._endpoint_slots: dict[Key, _Slots] = {}
        self._idle: dict[Key, list[Connection]] = {}
        self._gates: dict[Key, asyncio.Semaphore] = {}
        self._all: set[Connection] = set()
        self.buffers = ReadBuffers()
        self.pipes = Pipes()  # for bodies moved socket to socket (splice.py)
        self._sweeper: asyncio.TimerHandle | None = None

    async def _connect(self, endpoint: Endpoint, key: Key,
                       sock: socket.socket | None = None) -> Connection:
        try:
            conn = await asyncio.wait_for(open_connection(
                endpoint, lambda: Connection(key, self.buffers, self.forget), sock), self.connect_timeout)
        except (OSError, asyncio.TimeoutError, ssl.SSLError) as exc:
            raise UpstreamError(f"cannot connect to {endpoint.base}: {exc or type(exc).__name__}") from exc
        self._all.add(conn)
        return conn

    async def _connect_gated(self, endpoint: Endpoint, key: Key) -> Connection:
        """At most CONNECTS_AT_ONCE connects per endpoint: 100 requests released together by a
        wake would otherwise overflow a small app's listen backlog (Python's http.server: 5),
        and dropped SYNs come back only after 1, 3, 7 s. Waiting here, a request often gets a
        connection another one just gave back."""
        gate = self._gates.setdefault(key, asyncio.Semaphore(CONNECTS_AT_ONCE))
        async with gate:
            return self._pooled(key) or await self._connect(endpoint, key)

    async def adopt(self, endpoint: Endpoint, sock: socket.socket) -> None:
        """Pool a socket someone else connected (the readiness probe's): the next request uses it."""
        key = endpoint.transport
        self._park(await self._connect(endpoint, key, sock))

    def _park(self, conn: Connection) -> None:
        """Idle until reused or swept, reading (so that a close by the service is seen).

        One sweeper per pool, not a timer per request: a timer handle per request lives on in the
        loop's heap after its cancel, long enough for the cyclic GC to promote it, and enough
        promotions trigger full passes (100 ms stalls here)."""
        conn.idle_since = conn.loop.time()
        conn._unpause()
        self._idle.setdefault(conn.key, []).append(conn)
        if self._sweeper is None:
            self._sweeper = conn.loop.call_later(self.keepalive / 2, self._sweep)

    def _sweep(self) -> None:
        """Close connections idle for ``keepalive`` seconds (each goes within 1.5x of it)."""
        self._sweeper = None
        loop = asyncio.get_running_loop()
        oldest_allowed = loop.time() - self.keepalive
        for idle in self._idle.values():
            for conn in [c for c in idle if c.idle_since <= oldest_allowed]:
                idle.remove(conn)
                if conn.transport is not None:
                    conn.transport.close()
        if any(self._idle.values()):
            self._sweeper = loop.call_later(self.keepalive / 2, self._sweep)

    def _pooled(self, key: Key) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            conn = idle.pop()
            if conn.transport is not None and not conn.transport.is_closing():
                conn.reused = True
                return conn
        return None

    async def _take_slots(self, endpoint: Endpoint, key: Key) -> None:
        """A slot of the endpoint's and one of the pool's, or PoolBusy after ``wait_timeout``."""
        mine = self._endpoint_slots.get(key)
        if mine is None:
            mine = self._endpoint_slots[key] = _Slots(self.per_endpoint)
        if mine.try_take():  # the usual case: no timer, no suspension
            if self._slots.try_take():
                return
            mine.give()

        async def both() -> None:
            await mine.take()
            try:
                await self._slots.take()
            except BaseException:
                mine.give()
                raise

        try:
            if sys.version_info >= (3, 11):
                async with asyncio.timeout(self.wait_timeout):
                    await both()
            else:  # pragma: no cover
                await asyncio.wait_for(both(), self.wait_timeout)
        except asyncio.TimeoutError:
            if mine.used >= mine.limit:
                raise PoolBusy(f"{endpoint.base} has {mine.used} requests in flight, its limit "
                               "(upstream_connections_per_service); retry shortly") from None
            raise PoolBusy(f"all {self.limit} upstream connections of the proxy are in use "
                           "(upstream_connections); retry shortly") from None

    def _give_slots(self, key: Key) -> None:
        self._slots.give()
        mine = self._endpoint_slots.get(key)
        if mine is not None:
            mine.give()
            if mine.idle:
                del self._endpoint_slots[key]

    async def send(self, endpoint: Endpoint, method: str, target: str, headers: dict[str, str],
                   body: AsyncIterable[bytes] | None = None) -> Exchange:
        """Send a request; returns once the response head is in. The caller must ``release()``."""
        key = endpoint.transport
        chunked = body is not None and "Content-Length" not in headers
        if chunked:
            headers = {**headers, "Transfer-Encoding": "chunked"}
        head = (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + "\r\n").encode("latin-1")
        await self._take_slots(endpoint, key)
        conn: Connection | None = None
        sender: asyncio.Future[None] | None = None
        try:
            for _attempt in range(2):
                conn = self._pooled(key) or await self._connect_gated(endpoint, key)
                exchange = conn.begin(head, bodyless=method == "HEAD")
                sender = None if body is None else asyncio.ensure_future(conn.send_body(body, chunked))
                try:
                    await exchange.head
                except UpstreamError as exc:
                    exc.__traceback__ = None  # kept by the future: no cycle through this frame
                    if conn.reused and body is None and not exchange.answered:
                        continue  # the service closed an idle connection as we sent: try a fresh one
                    raise UpstreamError(str(exc)) from None
                broken = exchange.finished.done() and exchange.finished.exception()
                if broken:  # the body broke in the head's own read: nothing was passed on yet
                    raise UpstreamError(str(broken))
                exchange.sender = sender
                return exchange
            raise UpstreamError(f"{endpoint.base} closed the connection twice")  # pragma: no cover
        except BaseException:  # failed, or cancelled because the browser left: nothing is reusable
            self._give_slots(key)
            if sender is not None:
                sender.cancel()
            if conn is not None:
                conn.exchange = None  # no connection <-> exchange cycle left to the cyclic GC
                if conn.transport is not None:
                    conn.transport.close()
            raise

    def release(self, exchange: Exchange) -> None:
        """Give the connection back (kept alive if the exchange ended cleanly) and free the slot."""
        conn = exchange.conn
        self._give_slots(conn.key)
        sender = exchange.sender
        if sender is not None and not sender.done():
            sender.cancel()  # the service answered before taking the whole body
            exchange.keep_alive = False
        elif sender is not None and not sender.cancelled() and sender.exception() is not None:
            exchange.keep_alive = False  # the body broke off (the browser left): seen here, not logged
        reusable = conn.reusable
        conn.give_back_buffer()
        # No reference cycle may outlive the request: a cycle through the caller's frames (an
        # error kept by these futures, raised there, keeps their traceback) or through the sink
        # (which closes over its request handler) leaves that whole object graph to the cyclic
        # GC, whose full passes over a busy Jupyter server took 100-280 ms (p99 stalls).
        for future in (exchange.head, exchange.finished):
            if future.done() and not future.cancelled() and future.exception() is not None:
                future.exception().__traceback__ = None  # type: ignore[union-attr]
        exchange.sink, exchange.sender, conn.exchange = None, None, None
        if reusable:
            self._park(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def forget(self, conn: Connection) -> None:
        self._all.discard(conn)
        conn.give_back_buffer()
        idle = self._idle.get(conn.key)
        if idle and conn in idle:
            idle.remove(conn)

    async def close(self) -> None:
        for conn in list(self._all):
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()
        self.pipes.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        await asyncio.sleep(0)  # let the transports run their connection_lost
