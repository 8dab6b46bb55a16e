"""Read buffers the proxy's client reads response bodies into and lends to the browser's stream.

Reading a socket the usual way allocates a new object per read (asyncio asks for up to 256 KiB,
then shrinks it), and the copy to the browser keeps it alive meanwhile: for a large body that is
most of a proxy's own CPU. Reading into a buffer that is kept and lent as is (a memoryview) costs
neither. The rule that makes lending safe lives with the connection (upstream_connection.py):
a buffer is read into again only once the write holding part of it is done.
"""

from __future__ import annotations

#: Bytes per read: as much as a loopback socket usually holds at once.
READ_SIZE = 256 * 1024
#: Buffers kept for reuse between requests; more are left to the garbage collector.
KEPT = 16


class ReadBuffers:
    def __init__(self, size: int = READ_SIZE, kept: int = KEPT) -> None:
        self.size, self.kept = size, kept
        #: for reads that are copied out before anything else runs (response heads, small bodies)
        self.scratch = bytearray(size)
        self._free: list[bytearray] = []

    def take(self) -> bytearray:
        return self._free.pop() if self._free else bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        if len(self._free) < self.kept:
            self._free.append(buffer)
