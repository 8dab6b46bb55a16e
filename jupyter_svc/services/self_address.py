"""Whether an external service's URL is the Jupyter server itself.

Such a service proxies every request back into the proxy, which forwards it again, until every
upstream connection is taken. The URL's host is resolved (in a thread: ``getaddrinfo`` blocks)
and compared with every address the server listens on; a server on all interfaces (``0.0.0.0``,
``::``) is every address of this host. The loop mark (proxy/loops.py) catches what resolution
cannot foresee (DNS that changes later, another proxy in between).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import psutil

#: Seconds a name may take to resolve; past that, the URL is taken as not this server (the
#: loop mark still stops a loop), so that a slow DNS never stalls the API.
RESOLVE_TIMEOUT = 5.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # no IPv6 zone
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


async def _resolve(host: str, port: int) -> set[Address]:
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
    except (OSError, asyncio.TimeoutError, UnicodeError):
        return set()
    return {_address(str(info[4][0])) for info in infos}


def _interface_addresses() -> set[Address]:
    found: set[Address] = set()
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                try:
                    found.add(_address(entry.address))
                except ValueError:
                    continue
    return found


class ServerAddress:
    """The host and port the Jupyter server listens on, once it runs (empty until then)."""

    def __init__(self) -> None:
        self.host: str | None = None
        self.port = 0

    def listen_on(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def _addresses(self) -> tuple[set[Address], bool]:
        """The server's addresses, and whether it listens on all of this host's interfaces."""
        host = self.host or ""
        if host in ("", "*", "0.0.0.0", "::"):
            return await asyncio.to_thread(_interface_addresses), True
        return await _resolve(host, self.port), False

    async def is_url_of_server(self, url: str) -> bool:
        """True if ``url`` reaches the Jupyter server (resolving its host off the event loop)."""
        if self.host is None:
            return False
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if port != self.port or not parts.hostname:
            return False  # another port: no resolution needed
        targets = await _resolve(parts.hostname, port)
        if not targets:
            return False
        mine, everywhere = await self._addresses()
        for target in targets:
            if target in mine or target.is_unspecified:  # 0.0.0.0 / :: connect to this host
                return True
            if everywhere and target.is_loopback:  # 127.0.0.2 too
                return True
        return False
