"""The proxy's HTTP/1.1 client against real sockets: scripted asyncio servers that answer with
exactly the bytes a test needs (chunked splits, 1xx, idle closes, no length), plus nginx-like
keep-alive behaviour. Nothing is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.upstream.pool import UpstreamError, UpstreamPool

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[tuple[Endpoint, list[int]]]:
    """A server on a free port; yields its endpoint and a list that counts accepted connections."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await handler(reader, writer)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Endpoint("127.0.0.1", port), accepted
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    return await reader.readuntil(b"\r\n\r\n")


async def fetch(pool: UpstreamPool, endpoint: Endpoint, method: str = "GET", path: str = "/",
                body: list[bytes] | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in body or []:
            yield chunk

    exchange = await pool.send(endpoint, method, path, {"Host": "x", **(headers or {})},
                               chunks() if body is not None else None)
    got: list[bytes] = []
    try:
        if not exchange.complete:
            await exchange.stream(lambda chunk: got.append(chunk))  # type: ignore[func-returns-value]
        got.insert(0, exchange.take_early())
        return exchange.status, b"".join(got)
    finally:
        pool.release(exchange)


async def test_keep_alive_reuses_one_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        for _ in range(5):
            assert await fetch(pool, endpoint) == (200, b"hello")
    await pool.close()
    assert len(accepted) == 1


async def test_idle_connections_are_swept_after_keepalive_without_a_timer_per_request() -> None:
    """A connection left idle past ``keepalive`` is closed (the service sees EOF); one in use is
    not; and the loop holds one sweeper timer, not one per request."""
    closed: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            if not await reader.read(1):
                closed.append(1)
                return
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    pool = UpstreamPool(keepalive=0.3)
    loop = asyncio.get_running_loop()
    async with serving(handler) as (endpoint, accepted):
        # In a server, some other timer is always due first; the loop drops cancelled timers only
        # from the head of its heap, so per-request timers would pile up behind this one.
        due_first = loop.call_later(0.25, lambda: None)
        assert await fetch(pool, endpoint) == (200, b"ok")  # connects (its timeout is a timer too)
        timers_before = len(loop._scheduled)  # type: ignore[attr-defined]
        for _ in range(50):
            assert await fetch(pool, endpoint) == (200, b"ok")
        assert len(loop._scheduled) - timers_before <= 1  # type: ignore[attr-defined]
        due_first.cancel()
        await asyncio.sleep(0.1)
        assert closed == []  # used 0.1 s ago: kept
        await asyncio.sleep(0.6)
        assert closed == [1]  # idle past keepalive (swept within 1.5x of it)
        assert await fetch(pool, endpoint) == (200, b"ok")  # a new connection, no error
        assert len(accepted) == 2
    await pool.close()


async def test_lent_chunks_are_not_read_over_while_their_write_is_pending() -> None:
    """With ``borrow=True`` the sink gets views of the connection's read buffer. The last chunk of
    a response may still be on its way to a slow browser when the connection serves the next
    request: that request's body must go to another buffer."""
    bodies = {b"/a": b"A" * 100_000, b"/b": b"B" * 100_000}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            body = bodies[(await read_request(reader)).split()[1]]
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            await asyncio.sleep(0.05)  # the body comes in reads of its own, after the head
            writer.write(body)

    loop = asyncio.get_running_loop()
    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        got = 0
        last: list[memoryview] = []

        def slow_sink(chunk: bytes | memoryview) -> asyncio.Future[None]:
            nonlocal got
            got += len(chunk)
            written = loop.create_future()
            if got < len(bodies[b"/a"]):
                loop.call_soon(written.set_result, None)  # written soon: its buffer may be reused
            else:
                assert isinstance(chunk, memoryview)  # lent, not copied
                last.append(chunk)  # ... still being written when the next request comes
            return written

        exchange = await pool.send(endpoint, "GET", "/a", {"Host": "x"})
        await exchange.stream(slow_sink, borrow=True)
        pool.release(exchange)

        exchange = await pool.send(endpoint, "GET", "/b", {"Host": "x"})
        received: list[bytes] = []

        def fast_sink(chunk: bytes | memoryview) -> None:
            received.append(bytes(chunk))

        await exchange.stream(fast_sink, borrow=True)  # type: ignore[arg-type]
        pool.release(exchange)
        assert len(accepted) == 1  # the same connection served both
        assert b"".join(received) == bodies[b"/b"]
        assert last and set(bytes(last[0])) == {ord("A")}  # not overwritten by B's body
    await pool.close()


async def test_adopted_socket_serves_the_next_request() -> None:
    """The readiness probe's connection is the one the first request uses: one accept in all."""
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        sock = socket.create_connection((endpoint.host, endpoint.port))
        sock.setblocking(False)
        await pool.adopt(endpoint, sock)
        assert await fetch(pool, endpoint) == (200, b"ok")
        assert await fetch(pool, endpoint) == (200, b"ok")
    await pool.close()
    assert len(accepted) == 1


async def test_chunked_response_split_in_small_writes_and_interim_answers() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
                  b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-App: yes\r\n\r\n"
                  b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n")
        for i in range(0, len(answer), 7):
            writer.write(answer[i:i + 7])
            await writer.drain()
            await asyncio.sleep(0.001)
        await reader.read()

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, _):
        exchange = await pool.send(endpoint, "GET", "/", {"Host": "x"})
        assert exchange.status == 200 and exchange.header("x-app") == "yes"
        got: list[bytes] = []
        await exchange.stream(lambda chunk: got.append(chunk))  # type: ignore[func-returns-value]
        got.insert(0, exchange.take_early())
        assert b"".join(got) == b"abc0123456789abcdef"
        assert exchange.complete
        pool.release(exchange)
    await pool.close()


async def test_body_until_close_and_head_without_body() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request.startswith(b"HEAD"):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n")
            await read_request(reader)  # the connection stays usable after a HEAD
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        else:
            writer.write(b"HTTP/1.0 200 OK\r\n\r\nuntil the end")
        await writer.drain()

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        assert await fetch(pool, endpoint) == (200, b"until the end")
        assert await fetch(pool, endpoint, "HEAD") == (200, b"")
        assert await fetch(pool, endpoint) == (200, b"until the end")
    await pool.close()
    assert len(accepted) == 2  # the HEAD's connection was reused; a read-until-close one never is


async def test_idle_connection_closed_by_the_service_is_retried_once() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()  # then close: keep-alive announced, but the service hangs up

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        assert await fetch(pool, endpoint) == (200, b"ok")
        await asyncio.sleep(0.05)
        assert await fetch(pool, endpoint) == (200, b"ok")
    await pool.close()
    assert len(accepted) == 2


async def test_request_body_streams_chunked_or_with_length() -> None:
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            if b"chunked" in head.lower():
                body = b""
                while (line := await reader.readline()) != b"0\r\n":
                    body += await reader.readexactly(int(line.strip(), 16))
                    await reader.readexactly(2)
                await reader.readexactly(2)
            else:
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
            seen.append(body)
            writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        assert await fetch(pool, endpoint, "POST", body=[b"ab", b"", b"cde"]) == (201, b"")
        assert await fetch(pool, endpoint, "PUT", body=[b"xyz"], headers={"Content-Length": "3"}) == (201, b"")
    await pool.close()
    assert seen == [b"abcde", b"xyz"]
    assert len(accepted) == 1


async def test_not_http_and_refused_and_cut_short_are_upstream_errors() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH\r\n\r\n")

    async def short(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    pool = UpstreamPool()
    async with serving(garbage) as (endpoint, _):
        with pytest.raises(UpstreamError, match="malformed HTTP response: Expected HTTP/"):
            await fetch(pool, endpoint)
    with pytest.raises(UpstreamError, match="cannot connect"):
        await fetch(pool, endpoint)  # that server is gone now
    async with serving(short) as (endpoint, _):
        with pytest.raises(UpstreamError, match="closed by the service"):
            await fetch(pool, endpoint)
    await pool.close()


async def test_slow_sink_pauses_the_service_with_bounded_buffering() -> None:
    """The sink answers futures that the test resolves slowly, out of order with new writes (as
    tornado's do): nothing more arrives while one is pending, and the whole body gets through."""
    size = 64 * 1024 * 1024

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        block = b"z" * 65536
        for _ in range(size // len(block)):
            writer.write(block)
            await writer.drain()

    pool = UpstreamPool()
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[None]] = []
    received, while_pending = 0, 0

    def sink(chunk: bytes) -> asyncio.Future[None]:
        nonlocal received, while_pending
        received += len(chunk)
        if any(not f.done() for f in pending):
            while_pending = max(while_pending, len(chunk))
        future = loop.create_future()
        pending.append(future)
        return future

    async def resolve_slowly() -> None:
        while not exchange.finished.done():
            await asyncio.sleep(0.001)
            if pending:  # only the newest: older futures may stay pending forever, as in tornado
                pending[-1].set_result(None) if not pending[-1].done() else None

    async with serving(handler) as (endpoint, _):
        exchange = await pool.send(endpoint, "GET", "/", {"Host": "x"})
        received += len(exchange.take_early())
        resolver = asyncio.ensure_future(resolve_slowly())
        await asyncio.wait_for(exchange.stream(sink), 60)
        await resolver
        pool.release(exchange)
    await pool.close()
    assert received == size
    assert while_pending == 0, while_pending  # reading stopped while a write was pending
