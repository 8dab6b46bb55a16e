"""Knowing when an instance answers: an HTTP probe that starts fast and backs off.

A bare non-blocking connect says whether anything listens yet (~0.1 ms per try); the socket that
connects joins the proxy's pool and carries the probe's GET. Early tries come every few
milliseconds so that a wake from zero adds little to the app's own start-up time.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import time

from jupyter_svc.backends.base import Endpoint, Instance
from jupyter_svc.model.spec import Readiness
from jupyter_svc.upstream.pool import UpstreamError, UpstreamPool

#: Probe every EAGER_PAUSE seconds for the first EAGER_PHASE seconds of a start (fast apps: a wake
#: should add about a millisecond to their start), then every FAST_PAUSE until FAST_PHASE.
EAGER_PAUSE, EAGER_PHASE = 0.001, 2.0
FAST_PAUSE, FAST_PHASE = 0.003, 10.0


class NotReady(Exception):
    """The instance exited or never answered as the spec asks."""


async def probe_once(endpoint: Endpoint, path: str, pool: UpstreamPool, timeout: float = 2.0) -> int | None:
    """The status of one GET, or None if nothing answered."""
    probe = _probe_pooled(pool, endpoint, path)
    try:
        if sys.version_info >= (3, 11):  # no task per probe, unlike wait_for
            async with asyncio.timeout(timeout):
                return await probe
        return await asyncio.wait_for(probe, timeout)
    except (OSError, asyncio.TimeoutError, ValueError, UpstreamError):
        return None


async def _probe_pooled(pool: UpstreamPool, endpoint: Endpoint, path: str) -> int | None:
    """Through the proxy's pool, with keep-alive: the connection that finds the app ready is the
    one the first held request then takes, instead of connecting again on the wake path. While
    nothing listens yet, a bare connect says so more cheaply (0.1 ms against 0.3 ms); once one
    succeeds, that very socket joins the pool (an app that serves one connection gets just one)."""
    sock = await _connected(endpoint)
    if sock is None:
        return None
    try:
        await pool.adopt(endpoint, sock)
    except UpstreamError:
        sock.close()
        return None
    exchange = await pool.send(endpoint, "GET", endpoint.path + path,
                               {"Host": f"{endpoint.host}:{endpoint.port}", "User-Agent": "jupyter-svc-readiness"})
    pool.release(exchange)  # kept alive when the answer came whole with its head, else closed
    return exchange.status


def _socket_for(endpoint: Endpoint) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def _connected(endpoint: Endpoint) -> socket.socket | None:
    """A socket connected to the endpoint, or None while nothing listens there."""
    sock = _socket_for(endpoint)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (endpoint.host, endpoint.port))
    except OSError:
        sock.close()
        return None
    except BaseException:  # cancelled by the probe's timeout
        sock.close()
        raise
    return sock


async def wait_ready(instance: Instance, readiness: Readiness, timeout: float, pool: UpstreamPool,
                     prefix: str = "") -> float:
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
        status = await probe_once(instance.endpoint, prefix + readiness.path, pool)
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
