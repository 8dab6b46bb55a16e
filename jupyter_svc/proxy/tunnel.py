"""WebSockets as a byte tunnel: the handshake goes through, then frames pass unchanged.

Parsing and re-framing every message in two WebSocket implementations cost two thirds of the
direct echo rate (benchmarks/README.md); a tunnel copies bytes, like nginx does. Subprotocols
and extensions are agreed between the browser and the service themselves; pings, pongs and close
codes are just frames. Only the frame headers from the client are read, to enforce the message
size limit and to count activity.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from tornado.iostream import IOStream, StreamClosedError

from jupyter_svc.upstream.connection import UpstreamError, WriteFlow
from jupyter_svc.upstream.parsing import ResponseHead

from .compat import take_socket


class MessageTooBig(Exception):
    pass


def _header_size(head: bytes) -> int | None:
    if len(head) < 2:
        return None
    len7 = head[1] & 0x7F
    return 2 + (2 if len7 == 126 else 8 if len7 == 127 else 0) + (4 if head[1] & 0x80 else 0)


def _payload_length(head: bytes) -> int:
    len7 = head[1] & 0x7F
    if len7 == 126:
        return int(struct.unpack(">H", head[2:4])[0])
    if len7 == 127:
        return int(struct.unpack(">Q", head[2:10])[0])
    return len7


class FrameGuard:
    """Follows frame boundaries in a byte stream and refuses messages over ``limit`` bytes.

    A chunk that starts at a frame's header and holds it whole (nearly every read of a chatty
    socket) is read in place; a header split across reads is gathered first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = b""
        self._skip = 0
        self._message = 0

    def feed(self, data: bytes) -> None:
        end = len(data)
        if self._skip >= end:
            self._skip -= end
            return
        pos, self._skip = self._skip, 0
        while pos < end:
            if not self._head and end - pos >= _LONGEST_HEADER:
                head = data[pos:pos + _LONGEST_HEADER]  # holds the whole header, whatever its size
                length = _payload_length(head)
                self._frame(head[0], length)
                pos += (_header_size(head) or 2) + length
                continue
            want = (_header_size(self._head) or 2) - len(self._head)
            taken = data[pos:pos + want]
            self._head += taken
            pos += len(taken)
            need = _header_size(self._head)
            if need is None or len(self._head) < need:
                continue
            head, self._head = self._head, b""
            length = _payload_length(head)
            self._frame(head[0], length)
            pos += length
        self._skip = pos - end  # the rest of the last frame's payload comes in later reads

    def _frame(self, first: int, length: int) -> None:
        if first & 0x0F < 8:  # a data frame: its message may span several
            self._message += length
            if self._message > self.limit:
                raise MessageTooBig(f"message over {self.limit} bytes")
            if first & 0x80:
                self._message = 0
        elif length > self.limit:  # ping, pong, close: small by rule, but the rule is the client's
            raise MessageTooBig(f"control frame over {self.limit} bytes")


#: A frame header is at most 14 bytes (2, an 8-byte length, a 4-byte mask).
_LONGEST_HEADER = 14


def close_frame(code: int, reason: str, masked: bool) -> bytes:
    """A close frame; frames from a client (to the service) must be masked."""
    payload = struct.pack(">H", code) + reason.encode()[:123]
    if not masked:
        return bytes([0x88, len(payload)]) + payload
    key = os.urandom(4)
    return bytes([0x88, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@dataclass
class HandshakeAnswer:
    """The service's answer to the WebSocket handshake, as llhttp read it."""

    status: int
    reason: str
    head: bytes  # passed on to the browser as is when it is a 101

    def refusal(self, name: str) -> tuple[int, str]:
        """Status and message for the browser when it is not a 101: the service's own status, as
        a reverse proxy answers (502 for those that cannot carry a message)."""
        status = self.status if 200 <= self.status < 600 and self.status not in (204, 304) else 502
        return status, f"{name} refused the WebSocket: HTTP {self.status} {self.reason}".rstrip()


class ServiceSide(WriteFlow, asyncio.Protocol):
    """The service's end of a tunnel. It reads the handshake answer, then writes whatever the
    service sends straight to the browser's stream from ``data_received`` (no coroutine, no
    stream reader per message), pausing the service while the browser lags."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.answer: asyncio.Future[HandshakeAnswer] = loop.create_future()  # raises UpstreamError if malformed
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None
        self._head = ResponseHead()
        self._parser = self._head.new_parser()
        self._early = b""
        self._client: IOStream | None = None  # the browser, through tornado (TLS)
        self._browser: asyncio.Transport | None = None  # the browser, as a raw transport (plain TCP)
        self._on_traffic: Callable[[], None] = lambda: None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._browser is not None:  # the hot path: no stream, no future
            self._browser.write(data)
            self._on_traffic()
            return
        if self._client is not None:
            self._forward(data)
            return
        self._early += data
        if self.answer.done():
            return  # frames that came right after the answer wait for attach()
        head = self._head
        error = head.feed(self._parser, data)
        if error is not None:
            self.answer.set_exception(UpstreamError(f"its handshake answer is malformed HTTP: {error}"))
            self.answer.exception()  # retrieved: nobody may be waiting any more
            self.close()
        elif head.upgrade_at is not None:  # a 101: what follows is the service's frames
            end = len(self._early) - len(data) + head.upgrade_at
            answer, self._early = self._early[:end], self._early[end:]
            self.answer.set_result(HandshakeAnswer(head.status, head.reason, answer))
        elif head.head_done:  # refused: its body is of no use
            self.answer.set_result(HandshakeAnswer(head.status, head.reason, b""))
            self._early = b""

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(ConnectionError(f"closed before answering{f': {exc}' if exc else ''}"))
            self.answer.exception()  # retrieved: nobody may be waiting any more
        if not self.closed.done():
            self.closed.set_result(None)
        self.resume_writing()

    def attach(self, client: IOStream | asyncio.Transport, on_traffic: Callable[[], None]) -> None:
        """From now on, what the service sends goes to ``client``."""
        self._on_traffic = on_traffic
        early, self._early = self._early, b""
        if isinstance(client, IOStream):
            self._client = client
            if early:
                self._forward(early)
        else:
            self._browser = client
            if early:
                client.write(early)

    def pause_writing(self) -> None:
        """The service reads slower than the browser sends: stop reading the browser."""
        super().pause_writing()
        if self._browser is not None:
            self._browser.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._browser is not None and not self._browser.is_closing():
            self._browser.resume_reading()

    def _forward(self, data: bytes) -> None:
        assert self._client is not None and self.transport is not None
        try:
            written = self._client.write(data)
        except StreamClosedError:
            self.transport.close()
            return
        self._on_traffic()
        if not written.done():
            self.transport.pause_reading()
            written.add_done_callback(self._resume)

    def _resume(self, written: asyncio.Future[None]) -> None:
        if written.cancelled() or written.exception() is not None:
            if self.transport is not None:
                self.transport.close()  # the browser is gone
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class BrowserSide(asyncio.Protocol):
    """The browser's end of a plain-TCP tunnel, taken from tornado after the handshake: its frames
    go from ``data_received`` straight to the service's transport, frame headers checked on the way
    (the size limit), as the service's side does the other way (benchmarks/README.md: a coroutine
    step per message through tornado's stream was half the cost of an echo)."""

    def __init__(self, tunnel: Tunnel) -> None:
        self.tunnel = tunnel
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        tunnel = self.tunnel
        try:
            tunnel.guard.feed(data)
        except MessageTooBig as exc:
            if self.transport is not None:
                self.transport.pause_reading()
            tunnel.close(1009, str(exc))
            return
        service = tunnel.service.transport
        if service is not None:
            service.write(data)
        tunnel.on_traffic()

    def pause_writing(self) -> None:
        """The browser reads slower than the service sends: stop reading the service."""
        if self.tunnel.service.transport is not None:
            self.tunnel.service.transport.pause_reading()

    def resume_writing(self) -> None:
        service = self.tunnel.service.transport
        if service is not None and not service.is_closing():
            service.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class Tunnel:
    """Copies bytes both ways between a browser's connection and a service's connection."""

    def __init__(self, client: IOStream, service: ServiceSide, limit: int,
                 on_traffic: Callable[[], None]) -> None:
        self.client, self.service = client, service
        self.guard = FrameGuard(limit)
        self.on_traffic = on_traffic
        self.browser: asyncio.Transport | None = None  # set when the raw path is taken

    async def _from_client(self) -> None:
        transport = self.service.transport
        assert transport is not None
        while True:
            data = await self.client.read_bytes(65536, partial=True)
            try:
                self.guard.feed(data)
            except MessageTooBig as exc:
                self.close(1009, str(exc))
                return
            transport.write(data)
            await self.service.writable()
            self.on_traffic()

    async def run(self) -> None:
        """Relay until either side closes. A plain-TCP browser connection leaves tornado for an
        asyncio protocol; TLS (or bytes tornado still holds) keeps the stream."""
        sock = take_socket(self.client)
        if sock is None:
            await self._run_stream()
            return
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            transport, browser = await asyncio.get_running_loop().connect_accepted_socket(
                lambda: BrowserSide(self), sock=sock)
        except OSError:
            sock.close()
            self.service.close()
            return
        self.browser = transport
        self.service.attach(transport, self.on_traffic)
        try:
            await asyncio.wait([browser.closed, self.service.closed], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.service.close()
            transport.close()  # after what is buffered for the browser (the service's close frame)

    async def _run_stream(self) -> None:
        self.service.attach(self.client, self.on_traffic)
        from_client = asyncio.ensure_future(self._from_client())
        try:
            await asyncio.wait([from_client, self.service.closed], return_when=asyncio.FIRST_COMPLETED)
            if self.service.closed.done() and not self.client.closed():
                # the service's last frames (its close frame) may still be on their way out
                with contextlib.suppress(StreamClosedError, asyncio.TimeoutError):
                    await asyncio.wait_for(self.client.write(b""), 5)
        finally:
            from_client.cancel()
            await asyncio.gather(from_client, return_exceptions=True)
            self.service.close()
            self.client.close()

    def close(self, code: int, reason: str) -> None:
        """Say goodbye to both sides with a close frame, then cut the tunnel."""
        if self.browser is not None:
            if not self.browser.is_closing():
                self.browser.write(close_frame(code, reason, masked=False))
        else:
            with contextlib.suppress(StreamClosedError):
                self.client.write(close_frame(code, reason, masked=False))
        transport = self.service.transport
        if transport is not None and not transport.is_closing():
            transport.write(close_frame(code, reason, masked=True))
        asyncio.get_running_loop().call_later(0.5, self._cut)

    def _cut(self) -> None:
        self.service.close()
        if self.browser is not None:
            self.browser.close()
        self.client.close()
