"""One keep-alive HTTP/1.1 connection to a service, and the exchange of one request on it.

llhttp (parsing.py) reads each response head and decides the body's framing: a chunked body, a
body that comes with its head, one nobody takes yet, all go through it and reach the exchange's
sink as the copies httptools makes. A body with a Content-Length (validated by llhttp) or one that
runs until the service closes, taken by a borrowing sink, is instead read into a kept buffer
(read_buffers.py) and lent as is, no copy: those reads are counted against that length, not fed
to the parser, which the next exchange then replaces. The socket pauses while the sink is behind.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterable, Callable
from typing import Any

import httptools

from .parsing import MAX_HEAD, Response
from .read_buffers import ReadBuffers

#: Bytes read while a head is awaited: most heads and small bodies, little of a large body.
HEAD_READ = 32 * 1024

#: A sink takes a body chunk and may answer a future: while it is pending, the service is not read.
#: (Tornado's write futures cannot be counted per chunk: a newer write orphans an older one's
#: future. So the rule is "one unfinished write at a time", and the kernel's socket buffers keep
#: the service streaming meanwhile.)
#: Chunks are bytes, or memoryviews lent from a read buffer when the sink was given with
#: ``borrow=True`` (valid until the future it answered for them is done).
Sink = Callable[["bytes | memoryview"], "asyncio.Future[Any] | None"]


class UpstreamError(Exception):
    """The service could not be reached, or broke off, or answered something that is not HTTP."""


class Exchange:
    """One request and its response on one connection."""

    status = 0
    reason = ""
    headers: list[tuple[str, str]]
    answered = False  # a byte of the answer came: a failure is not an idle connection's close

    def __init__(self, conn: Connection, bodyless: bool) -> None:
        self.conn = conn
        self.bodyless = bodyless  # HEAD: whatever the headers say, no body follows
        self.headers = []
        self.head: asyncio.Future[None] = conn.loop.create_future()
        self.finished: asyncio.Future[None] = conn.loop.create_future()
        self.early: list[bytes] = []  # body bytes that came before anyone asked for them
        self.sink: Sink | None = None
        self.keep_alive = True
        self.sender: asyncio.Future[None] | None = None  # streams the request body, if any
        self.borrow = False

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def complete(self) -> bool:
        return self.finished.done() and self.finished.exception() is None

    def take_early(self) -> bytes:
        data, self.early = b"".join(self.early), []
        return data

    def abort(self, error: Exception) -> None:
        """Stop here (the browser left): the connection is closed, ``finished`` raises ``error``."""
        if not self.finished.done():
            self.finished.set_exception(error)
            self.finished.exception()
        self.keep_alive = False
        if self.conn.transport is not None:
            self.conn.transport.close()

    def stream(self, sink: Sink, borrow: bool = False) -> asyncio.Future[None]:
        """Send the rest of the body to ``sink``; the future ends with the body (or its error)."""
        self.sink, self.borrow = sink, borrow
        early = self.take_early()
        if early:
            self.conn.deliver(early)
        if borrow:
            self.conn.lend()
        self.conn.reading()
        return self.finished


class WriteFlow:
    """Mixin for a protocol: something to await while its transport's write buffer is full."""

    _writable: asyncio.Future[None] | None = None

    def pause_writing(self) -> None:
        self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    async def writable(self) -> None:
        if self._writable is not None:
            await self._writable


class Connection(WriteFlow, asyncio.BufferedProtocol):
    """One keep-alive connection to a service: writes request heads, reads responses."""

    def __init__(self, key: tuple[Any, ...], buffers: ReadBuffers,
                 on_lost: Callable[[Connection], None]) -> None:
        self.key, self.buffers, self._on_lost = key, buffers, on_lost
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.exchange: Exchange | None = None
        self.framing = ""  # head | parser (llhttp reads it) | length | close (lent, counted) | done
        self.left = 0  # body bytes still to come, in the lent "length" framing
        self.response: Response | None = None  # llhttp's reading of the answer in flight
        self._parser: httptools.HttpResponseParser | None = None
        self.reused = False
        self.idle_since = 0.0  # loop time it went back to the pool
        self.paused = False  # by a sink's pending write
        self._own: bytearray | None = None  # read buffer of this connection's borrowed bodies
        self._lent: asyncio.Future[Any] | None = None  # pending write of the last chunk lent from it
        self._reading: bytearray | None = None

    # -------------------------------------------------------------- transport callbacks
    def get_buffer(self, sizehint: int) -> memoryview:
        """Where the next read goes. A lent body is read into this connection's own buffer and
        lent as is (no copy, no allocation per read); the buffer is read into again only once the
        write of the last chunk lent from it is done, else a fresh one is taken. Anything else
        goes to the pool's scratch buffer, whose bytes the parser copies out at once."""
        if self.framing in ("length", "close"):
            if self._own is None or (self._lent is not None and not self._lent.done()):
                self._own = self.buffers.take()  # a still-lent one is left to its writer
            self._lent = None
            self._reading = self._own
        else:
            self._reading = self.buffers.scratch
            if self.framing == "head":  # a large body's start would be copied by the parser,
                return memoryview(self._reading)[:HEAD_READ]  # where it could be lent or spliced
        return memoryview(self._reading)

    def buffer_updated(self, nbytes: int) -> None:
        buffer, self._reading = self._reading, None
        assert buffer is not None
        data = memoryview(buffer)[:nbytes]
        if self.framing in ("head", "parser"):
            self._parse(data)
        elif self.framing in ("length", "close"):
            self._count(data)
        elif bytes(data).strip() and self.transport is not None:
            self.transport.close()  # bytes nobody asked for: this connection is not reusable

    def give_back_buffer(self) -> None:
        """Return the body buffer to the pool, unless a write still holds part of it."""
        own, self._own = self._own, None
        if own is not None and (self._lent is None or self._lent.done()):
            self.buffers.give(own)
        self._lent = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self._on_lost(self)
        self.resume_writing()
        ex = self.exchange
        if ex is None:
            return
        response = self.response
        if self.framing == "close" or (self.framing == "parser" and response is not None and response.until_close):
            self._end()  # the body ran until the service closed: that is its end
            return
        self._fail(UpstreamError(f"connection closed by the service{f': {exc}' if exc else ''}"))

    # -------------------------------------------------------------- reading
    def _parse(self, data: memoryview) -> None:
        ex, response, parser = self.exchange, self.response, self._parser
        assert ex is not None and response is not None and parser is not None
        ex.answered = True
        error = response.feed(parser, data)
        if self.framing == "head" and response.head_done:
            ex.status, ex.reason, ex.headers = response.status, response.reason, response.headers
            ex.keep_alive = response.keep_alive
            self.framing = "parser"
            ex.head.set_result(None)
        for piece in response.take_body():
            self.deliver(piece)
        if response.stray or (error is not None and response.ended):
            ex.keep_alive = False  # bytes after the end of the answer: not reusable
        elif error is not None:
            self._fail(UpstreamError(f"malformed HTTP response: {error}"))
            return
        if response.stopped:  # a HEAD's answer: anything read past its head is not a next answer
            ex.keep_alive = ex.keep_alive and data[-4:] == b"\r\n\r\n"
            self._end()
        elif response.ended:
            self._end()

    def lend(self) -> None:
        """A borrowing sink takes the body: if its length is known or it runs until the service
        closes, read it into lent buffers from now on, counted rather than parsed."""
        response = self.response
        if self.framing != "parser" or response is None:
            return
        if response.length is not None:
            self.framing, self.left = "length", response.length - response.body_seen
        elif response.until_close:
            self.framing = "close"

    def _count(self, data: memoryview) -> None:
        ex = self.exchange
        assert ex is not None
        if self.framing == "length":
            if len(data) > self.left:
                data = data[:self.left]
                ex.keep_alive = False  # more than promised: do not trust the connection again
            self.left -= len(data)
            self.deliver(data)
            if not self.left:
                self._end()
        else:
            self.deliver(data)

    def deliver(self, data: bytes | memoryview) -> None:
        ex = self.exchange
        if ex is None or not data or ex.finished.done():
            return  # aborted (the browser left): what still arrives is dropped
        if ex.sink is None:
            ex.early.append(data if isinstance(data, bytes) else bytes(data))
            if sum(map(len, ex.early)) > MAX_HEAD and self.transport is not None:
                self.transport.pause_reading()  # nobody reads yet: stop until someone does
            return
        try:
            wait = ex.sink(data)
        except Exception as exc:  # the sink's side broke: end this exchange, not the transport's loop
            traceback.clear_frames(exc.__traceback__)  # no frame -> exchange -> exception cycle
            ex.abort(UpstreamError(f"the answer could not be passed on: {exc}"))
            return
        if wait is not None and not wait.done() and self.transport is not None:
            self._lent = wait
            if not self.paused:
                self.paused = True  # the browser is slower than the service
                self.transport.pause_reading()
            # on every pending future, not just the first: one read can give several chunks
            # (chunked framing), and a newer write orphans the older futures
            wait.add_done_callback(self._resume)

    def reading(self) -> None:
        """Read again if early bytes, which nobody was taking, had paused the connection."""
        if self.transport is not None and not self.paused and not self.transport.is_closing():
            self.transport.resume_reading()

    def _resume(self, _: asyncio.Future[Any]) -> None:
        if self.paused:
            self._unpause()

    def _unpause(self) -> None:
        self.paused = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()  # a no-op unless paused

    def body_moved(self) -> None:
        """The body went past this connection (splice.py moved it socket to socket): the exchange
        ends as if it had been read here."""
        self._end()

    def _end(self) -> None:
        ex = self.exchange
        self.framing = "done"
        if ex is not None and not ex.finished.done():
            ex.finished.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        """The answer is broken: the exchange raises ``error`` and the connection is closed (the
        pool forgets it when it is lost, so it is never reused)."""
        ex = self.exchange
        self.framing = "done"
        if ex is not None:
            ex.keep_alive = False
            for future in (ex.head, ex.finished):
                if not future.done():
                    future.set_exception(error)
                    future.exception()  # retrieved: nobody may be waiting on both
        if self.transport is not None:
            self.transport.close()

    # -------------------------------------------------------------- requests
    def begin(self, head: bytes, bodyless: bool) -> Exchange:
        assert self.transport is not None
        self.exchange = Exchange(self, bodyless)
        response = self.response
        if response is not None and self._parser is not None and response.clean:
            response.start(bodyless)  # its parser stands at the start of the next response
        else:
            self.response = response = Response(bodyless)
            self._parser = response.new_parser()
        self.framing = "head"
        self._unpause()  # the last exchange may have left it paused (its last write still pending)
        self.transport.write(head)
        return self.exchange

    async def send_body(self, body: AsyncIterable[bytes], chunked: bool) -> None:
        assert self.transport is not None
        async for chunk in body:
            if not chunk:
                continue
            self.transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
            await self.writable()
            if self.transport.is_closing():
                return
        if chunked:
            self.transport.write(b"0\r\n\r\n")

    @property
    def reusable(self) -> bool:
        ex = self.exchange
        return (ex is not None and ex.complete and ex.keep_alive and self.transport is not None
                and not self.transport.is_closing())
