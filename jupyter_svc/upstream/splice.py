"""A body of known length moved from the service's socket to the browser's inside the kernel.

For a large body the proxy's own work is two copies (socket to Python, Python to socket) and a
loop turn per read. Linux's splice(2) moves it through a pipe instead: pages go from one socket
to the other and Python only counts them. Used for bodies with a Content-Length over
``SPLICE_MIN`` bytes, between plain sockets (no TLS on either side, no transform of the body);
everything else is relayed as before (connection.py). Waiting is on duplicates of both file
descriptors, so neither asyncio's transport nor tornado's stream sees its own registration change.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Exchange

#: Smaller bodies are not worth a pipe and the extra system calls.
SPLICE_MIN = 128 * 1024
#: Bytes a pipe holds (F_SETPIPE_SZ; the kernel's default is 64 KiB, its usual limit 1 MiB).
PIPE_SIZE = 1024 * 1024
#: Empty pipes kept for the next body.
PIPES_KEPT = 8

_FLAGS = getattr(os, "SPLICE_F_MOVE", 1) | getattr(os, "SPLICE_F_NONBLOCK", 2)
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


class BrowserGone(Exception):
    """The browser's socket refused the body (it closed, or reset)."""


def available() -> bool:
    return hasattr(os, "splice")


class Pipes:
    """Empty pipes for reuse: two system calls saved per body, and fewer file descriptors churned."""

    def __init__(self, kept: int = PIPES_KEPT) -> None:
        self.kept = kept
        self._free: list[tuple[int, int, int]] = []
        self.bodies = self.bytes = 0  # moved whole, for tests and curious operators

    def take(self) -> tuple[int, int, int]:
        """(read end, write end, capacity)."""
        if self._free:
            return self._free.pop()
        read, write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            capacity = fcntl.fcntl(write, _F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:  # over the user's pipe quota (fs.pipe-user-pages-soft): the default size
            capacity = 64 * 1024
        return read, write, capacity

    def give(self, pipe: tuple[int, int, int], empty: bool) -> None:
        if empty and len(self._free) < self.kept:
            self._free.append(pipe)
        else:
            os.close(pipe[0])
            os.close(pipe[1])

    def close(self) -> None:
        for read, write, _ in self._free:
            os.close(read)
            os.close(write)
        self._free.clear()


def spliceable(exchange: Exchange) -> int:
    """Bytes of the body left to splice, or 0 if this exchange's body must be relayed in Python:
    no length, too small, TLS to the service, or nothing left to read."""
    conn, response = exchange.conn, exchange.conn.response
    transport = conn.transport
    if (not available() or response is None or response.length is None or conn.framing != "parser"
            or transport is None or transport.get_extra_info("sslcontext") is not None
            or transport.get_extra_info("socket") is None):
        return 0
    left = response.length - response.body_seen
    return left if left >= SPLICE_MIN else 0


async def splice_body(exchange: Exchange, target: int, pipes: Pipes, on_chunk: Callable[[], None]) -> int:
    """Move the rest of ``exchange``'s body (see :func:`spliceable`) to the socket ``target``; the
    bytes moved. The exchange ends as a relayed one would: finished, its connection reusable.
    Raises BrowserGone (the exchange aborted) if the browser leaves, UpstreamError if the service
    breaks off."""
    from .connection import UpstreamError

    conn = exchange.conn
    response, transport = conn.response, conn.transport
    assert response is not None and response.length is not None and transport is not None
    left = total = response.length - response.body_seen
    conn.framing = "spliced"  # reads asyncio still makes are not this body's
    conn.paused = True
    transport.pause_reading()
    loop = asyncio.get_running_loop()
    source, sink = os.dup(transport.get_extra_info("socket").fileno()), os.dup(target)
    pipe = pipes.take()
    read_end, write_end, capacity = pipe
    held = 0  # bytes in the pipe
    try:
        while left or held:
            moved = False
            if left and held < capacity:
                n = _splice(source, write_end, min(left, capacity - held), UpstreamError, "the service broke off")
                if n == 0:
                    raise UpstreamError("connection closed by the service")
                if n > 0:
                    left, held, moved = left - n, held + n, True
            if held:
                n = _splice(read_end, sink, held, BrowserGone, "the browser left")
                if n > 0:
                    held, moved = held - n, True
                    on_chunk()
            if not moved:
                await _ready(loop, source if left and held < capacity else None, sink if held else None)
    except BaseException as exc:
        # a fresh error, never raised: a future keeps a raised one's traceback (3.11's
        # _exception_tb), whose frames hold this exchange, a cycle left to the cyclic GC
        exchange.abort(UpstreamError(f"the body was cut short: {exc or type(exc).__name__}"))
        raise
    finally:
        os.close(source)
        os.close(sink)
        pipes.give(pipe, held == 0)
    conn.body_moved()
    pipes.bodies, pipes.bytes = pipes.bodies + 1, pipes.bytes + total
    return total


def _splice(source: int, target: int, count: int, error: type[Exception], what: str) -> int:
    """Bytes moved, or -1 if either side would block. An OSError becomes ``error``, raised outside
    the except clause: its context would keep this frame, and so the exchange, in a cycle."""
    failure = ""
    try:
        return os.splice(source, target, count, flags=_FLAGS)
    except BlockingIOError:
        return -1
    except OSError as exc:
        failure = f"{what}: {exc.strerror or exc}"
    raise error(failure)


async def _ready(loop: asyncio.AbstractEventLoop, readable: int | None, writable: int | None) -> None:
    """Until ``readable`` can be read or ``writable`` written (whichever comes first)."""
    waiter = loop.create_future()

    def wake() -> None:
        if not waiter.done():
            waiter.set_result(None)

    if readable is not None:
        loop.add_reader(readable, wake)
    if writable is not None:
        loop.add_writer(writable, wake)
    try:
        await waiter
    finally:
        if readable is not None:
            loop.remove_reader(readable)
        if writable is not None:
            loop.remove_writer(writable)
        with contextlib.suppress(Exception):
            waiter.cancel()
