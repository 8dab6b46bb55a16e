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
import struct
from collections.abc import Callable

from tornado.iostream import IOStream, StreamClosedError


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
    """Follows frame boundaries in a byte stream and refuses messages over ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._head = b""
        self._skip = 0
        self._message = 0

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            size = _header_size(self._head)
            want = (size or 2) - len(self._head)
            taken = data[pos:pos + want]
            self._head += taken
            pos += len(taken)
            size = _header_size(self._head)
            if size is None or len(self._head) < size:
                continue
            length = _payload_length(self._head)
            if self._head[0] & 0x0F < 8:  # a data frame (control frames are small by rule)
                self._message += length
                if self._message > self.limit:
                    raise MessageTooBig(f"message over {self.limit} bytes")
                if self._head[0] & 0x80:
                    self._message = 0
            self._head, self._skip = b"", length


def close_frame(code: int, reason: str, masked: bool) -> bytes:
    """A close frame; frames from a client (to the service) must be masked."""
    payload = struct.pack(">H", code) + reason.encode()[:123]
    if not masked:
        return bytes([0x88, len(payload)]) + payload
    key = os.urandom(4)
    return bytes([0x88, 0x80 | len(payload)]) + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


class Tunnel:
    """Copies bytes both ways between a browser's stream and a service's connection."""

    def __init__(self, client: IOStream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 limit: int, on_traffic: Callable[[], None]) -> None:
        self.client, self.reader, self.writer = client, reader, writer
        self.guard = FrameGuard(limit)
        self.on_traffic = on_traffic

    async def _from_client(self) -> None:
        while True:
            data = await self.client.read_bytes(65536, partial=True)
            try:
                self.guard.feed(data)
            except MessageTooBig as exc:
                self.close(1009, str(exc))
                return
            self.writer.write(data)
            await self.writer.drain()
            self.on_traffic()

    async def _from_service(self) -> None:
        while data := await self.reader.read(65536):
            await self.client.write(data)
            self.on_traffic()

    async def run(self) -> None:
        tasks = [asyncio.ensure_future(self._from_client()), asyncio.ensure_future(self._from_service())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.writer.close()
            self.client.close()

    def close(self, code: int, reason: str) -> None:
        """Say goodbye to both sides with a close frame, then cut the tunnel."""
        with contextlib.suppress(StreamClosedError):
            self.client.write(close_frame(code, reason, masked=False))
        if not self.writer.is_closing():
            self.writer.write(close_frame(code, reason, masked=True))
        asyncio.get_running_loop().call_later(0.5, self._cut)

    def _cut(self) -> None:
        self.writer.close()
        self.client.close()
