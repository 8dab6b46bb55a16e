#!/usr/bin/env python
"""Benchmark-only ceiling: the least any Python proxy can do, a byte relay with no HTTP at all.

Usage: tcp_relay.py LISTEN_PORT TARGET_PORT

Each accepted connection gets one upstream connection; bytes go straight from ``data_received``
to the other side's ``transport.write`` (asyncio protocols, no streams, no parsing, no auth).
Whatever this reaches on the benchmark machine bounds what a proxy written in Python can reach.
"""

from __future__ import annotations

import asyncio
import socket
import sys


class Side(asyncio.Protocol):
    def __init__(self) -> None:
        self.peer: Side | None = None
        self.transport: asyncio.Transport | None = None
        self.early: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)
        else:
            self.early.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()


async def main(listen: int, target: int) -> None:
    loop = asyncio.get_running_loop()

    class Downstream(Side):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self.connecting = loop.create_task(self.connect())

        async def connect(self) -> None:
            try:
                _, upstream = await loop.create_connection(Side, "127.0.0.1", target)
            except OSError:
                if self.transport is not None:
                    self.transport.close()
                return
            assert upstream.transport is not None
            if self.transport is None or self.transport.is_closing():  # the client left meanwhile
                upstream.transport.close()
                return
            upstream.peer, self.peer = self, upstream
            for data in self.early:
                upstream.transport.write(data)
            self.early.clear()

    server = await loop.create_server(Downstream, "127.0.0.1", listen, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2])))
