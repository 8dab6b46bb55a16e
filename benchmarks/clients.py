"""What the benchmark sends: API calls, WebSocket echo loops, downloads."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp


async def api(session: aiohttp.ClientSession, base: str, method: str, path: str, body: Any = None,
              **params: Any) -> tuple[int, Any]:
    async with session.request(method, f"{base}svc/api/{path}", json=body, params=params or None) as r:
        text = await r.text()
        return r.status, (json.loads(text) if text else None)


async def ws_echo(url: str, headers: dict[str, str], seconds: float, clients: int) -> dict[str, Any]:
    payload = "m" * 64

    async def one(session: aiohttp.ClientSession) -> int:
        n = 0
        async with session.ws_connect(url, headers=headers) as ws:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                await ws.send_str(payload)
                msg = await ws.receive()
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"unexpected {msg.type} from {url}")
                n += 1
        return n

    async with aiohttp.ClientSession() as session:
        t0 = time.perf_counter()
        counts = await asyncio.gather(*(one(session) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return {"round_trips_s": sum(counts) / elapsed, "clients": clients}


async def download(url: str, headers: dict[str, str]) -> tuple[int, float]:
    total = 0
    async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as session:
        t0 = time.perf_counter()
        async with session.get(url) as r:
            assert r.status == 200, r.status
            async for chunk in r.content.iter_chunked(1 << 20):
                total += len(chunk)
        return total, time.perf_counter() - t0


