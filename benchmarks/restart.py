"""The first request after a server restart, to a service at zero: what a shared link meets when the
user's server has just been started (by JupyterHub, after a cull, after an upgrade).

Each repetition pairs, as ``coldstart.py`` does, the backend's own start with the first request
through jupyter-svc, but the request goes to a Jupyter server that has *just* started: its state
folder holds the service at zero (left there by the previous repetition), and the request is sent as
soon as the server's own ``/api/status`` answers. Its overhead over the app's own start is compared
with a warm server's cold start (the same pair on a server that has run for a while).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from clients import api
from coldstart import ColdBackend, first_answer, own_start, pair, scale_to_zero
from harness import Procs, median, start_jupyter


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


async def measure(procs: Procs, tmp: Path, token: str, backend: ColdBackend, reps: int) -> dict[str, Any]:
    state = tmp / "restart-state"
    auth = {"Authorization": f"token {token}"}
    headers = {**auth, "Accept": "*/*"}
    pairs: list[dict[str, Any]] = []
    for rep in range(reps + 1):  # repetition 0 only leaves the service at zero in the state folder
        own = await asyncio.to_thread(own_start, backend) if rep else 0.0
        port, proc = await asyncio.to_thread(
            start_jupyter, procs, tmp, f"server-restart-{rep}", sys.executable, token, {"jupyter_svc": True},
            [f"--SvcExtension.state_dir={state}"])
        base = f"http://127.0.0.1:{port}/"
        if rep:  # the server answers /api/status: a user's first request arrives now
            status, through = await asyncio.to_thread(first_answer, port, f"/svc/{backend.name}/", headers)
        async with aiohttp.ClientSession(headers=auth) as session:
            if rep == 0:
                code, view = await api(session, base, "POST", "services", backend.spec, wait=60)
                assert code == 201, (code, view)
            else:
                _, view = await api(session, base, "GET", f"services/{backend.name}")
                pairs.append(pair("after a restart", own, through, status, view))
            await scale_to_zero(session, base, backend.name)  # the next server finds it at zero
        await asyncio.to_thread(_stop, proc)
    return {"pairs": pairs, "overhead_ms": median([p["overhead_ms"] for p in pairs]),
            "failed": sum(1 for p in pairs if p["status"] != 200)}
