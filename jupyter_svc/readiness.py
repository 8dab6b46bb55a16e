"""Knowing when an instance answers: an HTTP probe that starts fast and backs off.

The probe speaks just enough HTTP/1.1 to read a status line, over a fresh connection made with
bare socket calls: no client object, no pool to go stale, 0.1-0.2 ms per try. Early tries come every
few milliseconds so that a wake from zero adds little to the app's own start-up time.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time

from .backends.base import Endpoint, Instance
from .spec import Readiness

#: Probe every EAGER_PAUSE seconds for the first EAGER_PHASE seconds of a start (fast apps: a wake
#: should add about a millisecond to their start), then every FAST_PAUSE until FAST_PHASE.
EAGER_PAUSE, EAGER_PHASE = 0.001, 2.0
FAST_PAUSE, FAST_PHASE = 0.003, 10.0


class NotReady(Exception):
    """The instance exited or never answered as the spec asks."""


async def probe_once(endpoint: Endpoint, path: str, timeout: float = 2.0) -> int | None:
    """The status of one GET, or None if nothing answered."""
    try:
        if sys.version_info >= (3, 11):  # no task per probe, unlike wait_for
            async with asyncio.timeout(timeout):
                return await _probe(endpoint, path)
        return await asyncio.wait_for(_probe(endpoint, path), timeout)
    except (OSError, asyncio.TimeoutError, ValueError):
        return None


async def _probe(endpoint: Endpoint, path: str) -> int | None:
    """Bare non-blocking socket calls: a refused connect costs ~0.1 ms, an answer ~0.2 ms."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (endpoint.host, endpoint.port))  # names resolve here, IPs skip it
        await loop.sock_sendall(sock, (
            f"GET {endpoint.path + path} HTTP/1.1\r\nHost: {endpoint.host}:{endpoint.port}\r\n"
            "User-Agent: jupyter-svc-readiness\r\nConnection: close\r\n\r\n").encode("latin-1"))
        line = b""
        while b"\n" not in line and len(line) < 4096:
            chunk = await loop.sock_recv(sock, 1024)
            if not chunk:
                break
            line += chunk
    parts = line.split(b"\r\n", 1)[0].split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


async def wait_ready(instance: Instance, readiness: Readiness, timeout: float, prefix: str = "") -> float:
    """Return the seconds it took; raise NotReady if it exits or the timeout passes.

    ``prefix`` is where the app's root is: its base URL when it serves under it (rewrite_path off).
    """
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    while True:
        code = instance.poll()
        if code is not None:
            raise NotReady(f"exited with code {code} before it was ready")
        status = await probe_once(instance.endpoint, prefix + readiness.path)
        if status is not None:
            if readiness.accepts(status):
                return time.monotonic() - started
            last = f"HTTP {status} on {readiness.path}"
        now = time.monotonic()
        if now >= deadline:
            raise NotReady(f"not ready after {timeout:g}s ({last})")
        await asyncio.sleep(min(_pause(now - started, readiness.interval), deadline - now))


def _pause(elapsed: float, longest: float) -> float:
    """Every few ms while most apps are still starting (a refused loopback connect costs ~0.1 ms,
    and a request may be held waiting), then backing off to the spec's interval."""
    if elapsed < EAGER_PHASE:
        return min(EAGER_PAUSE, longest)
    if elapsed < FAST_PHASE:
        return min(FAST_PAUSE, longest)
    return min(FAST_PAUSE * 1.5 ** ((elapsed - FAST_PHASE) * 4), longest)
