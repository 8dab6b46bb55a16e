"""Readiness as an HTTP probe: the default :meth:`Instance.wait_ready`, fast at first, then backing off.

The probe itself is the server's (``ReadyCheck.http_probe``: through the proxy's pool, so the
connection that finds the app ready is the one the first held request takes). This module only
decides when to try: every few milliseconds while most apps are still starting, so that a wake
from zero adds little to the app's own start-up time, then up to the spec's interval.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Instance, ReadyCheck

#: Probe every EAGER_PAUSE seconds for the first EAGER_PHASE seconds of a start (fast apps: a wake
#: should add about a millisecond to their start), then every FAST_PAUSE until FAST_PHASE.
EAGER_PAUSE, EAGER_PHASE = 0.001, 2.0
FAST_PAUSE, FAST_PHASE = 0.003, 10.0


async def probe_until_ready(instance: Instance, check: ReadyCheck) -> float:
    """Return the seconds it took; NotReady if the instance exits or the timeout passes."""
    from .base import NotReady

    readiness, timeout = check.readiness, check.timeout
    started = time.monotonic()
    deadline = started + timeout
    last = "no answer"
    while True:
        code = await instance.poll()
        if code is not None:
            raise NotReady(f"exited with code {code} before it was ready")
        status = await check.http_probe(instance.endpoint, check.prefix + readiness.path)
        if status is not None:
            if readiness.accepts(status):
                return time.monotonic() - started
            last = f"HTTP {status} on {readiness.path}"
        now = time.monotonic()
        if now >= deadline:
            raise NotReady(f"not ready after {timeout:g}s ({last})")
        await asyncio.sleep(min(pause(now - started, readiness.interval), deadline - now))


def pause(elapsed: float, longest: float) -> float:
    """Every few ms while most apps are still starting (a refused loopback connect costs ~0.1 ms,
    and a request may be held waiting), then backing off to the spec's interval."""
    if elapsed < EAGER_PHASE:
        return min(EAGER_PAUSE, longest)
    if elapsed < FAST_PHASE:
        return min(FAST_PAUSE, longest)
    return min(FAST_PAUSE * 1.5 ** ((elapsed - FAST_PHASE) * 4), longest)
