"""Which addresses a service's processes listen on, read with psutil.

An app bound to every interface (``0.0.0.0``, ``::``) or to a public address answers anyone who
reaches the machine, without Jupyter's login; the proxy only helps when the app is reachable
through it alone. The local backend asks this once the readiness probe passes.
"""

from __future__ import annotations

import contextlib
import ipaddress

import psutil


def _is_loopback(ip: str) -> bool:
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _processes(pid: int) -> list[psutil.Process]:
    try:
        leader = psutil.Process(pid)
        return [leader, *leader.children(recursive=True)]
    except psutil.Error:
        return []


def listening_beyond_loopback(pid: int, allowed: frozenset[str] = frozenset()) -> list[str]:
    """``host:port`` of each TCP socket that ``pid`` or its descendants listen on at an address
    other than loopback (and ``allowed``), sorted; blocking (/proc reads): call it in a thread."""
    found: set[str] = set()
    for process in _processes(pid):
        with contextlib.suppress(psutil.Error):
            for conn in process.net_connections(kind="tcp"):
                if conn.status != psutil.CONN_LISTEN or not conn.laddr:
                    continue
                ip, port = conn.laddr.ip, conn.laddr.port
                if _is_loopback(ip) or ip in allowed:
                    continue
                found.add(f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}")
    return sorted(found)


def exposure_warning(addresses: list[str]) -> str:
    """The status's and the log's words for ``addresses`` (from :func:`listening_beyond_loopback`)."""
    return (f"listening on {', '.join(addresses)}: reachable without Jupyter's login; "
            "bind the app to 127.0.0.1 (e.g. --bind 127.0.0.1 or --host 127.0.0.1)")
