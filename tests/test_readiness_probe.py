"""The server's readiness probe against real sockets (a scripted asyncio app): it must read the
answer it asked for, so the app never sees its connection reset. Nothing is mocked."""

from __future__ import annotations

import asyncio
import contextlib

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.services.readiness import probe_once
from jupyter_svc.upstream.pool import UpstreamPool


async def test_probe_reads_a_body_sent_after_the_head_and_keeps_the_connection() -> None:
    """Python's http.server writes the head and the body in two sends: a probe that closed the
    connection after the head left the body unread, the kernel answered it with a reset, and the
    app logged a ConnectionResetError traceback over its own last lines (a CI failure)."""
    outcomes: list[str] = []
    accepted: list[int] = []

    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
                await writer.drain()
                await asyncio.sleep(0.05)
                writer.write(b"ready")
                await writer.drain()
        except asyncio.IncompleteReadError:
            outcomes.append("closed cleanly")
        except ConnectionResetError:
            outcomes.append("reset")
        finally:
            writer.close()

    server = await asyncio.start_server(app, "127.0.0.1", 0)
    endpoint = Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    pool = UpstreamPool()
    try:
        assert await probe_once(endpoint, "/", pool) == 200
        exchange = await pool.send(endpoint, "GET", "/", {"Host": "x"})  # a first held request
        body: list[bytes] = [exchange.take_early()]
        if not exchange.complete:
            await exchange.stream(lambda chunk: body.append(bytes(chunk)))  # type: ignore[func-returns-value]
        pool.release(exchange)
        assert b"".join(body) == b"ready"
        assert len(accepted) == 1  # ... took the probe's kept-alive connection
        await pool.close()
        for _ in range(100):
            if outcomes:
                break
            await asyncio.sleep(0.01)
        assert outcomes == ["closed cleanly"]
    finally:
        await pool.close()
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


async def test_probe_gives_up_on_a_body_too_large_to_read() -> None:
    """A readiness path that streams without end (or megabytes) is not read to its end: the probe
    answers with the status and closes that one connection."""
    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            while True:
                writer.write(b"4000\r\n" + b"x" * 0x4000 + b"\r\n")
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(app, "127.0.0.1", 0)
    endpoint = Endpoint("127.0.0.1", server.sockets[0].getsockname()[1])
    pool = UpstreamPool()
    try:
        assert await asyncio.wait_for(probe_once(endpoint, "/", pool), 5) == 200
    finally:
        await pool.close()
        server.close()
