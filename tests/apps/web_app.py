"""A real aiohttp app for proxy tests: echo, streams both ways, WebSockets, SSE, redirects, slow answers.

Usage: web_app.py PORT [--term-delay SECONDS] [--unix-socket PATH]
(with --unix-socket it listens on that Unix socket only, not on PORT)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.Response:
    return web.json_response({
        "method": request.method, "path": request.path_qs, "pid": os.getpid(),
        "headers": dict(request.headers), "body_bytes": len(await request.read()),
    })


async def download(request: web.Request) -> web.StreamResponse:
    """``size`` bytes of "x" (or, with ``pattern=offsets``, each 8-byte word its own offset, so a
    reordered or lost piece shows); with ``cut=N`` the app breaks off after N of the promised bytes."""
    size = int(request.query.get("size", "1024"))
    cut = int(request.query.get("cut", size))
    offsets = request.query.get("pattern") == "offsets"
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = size
    await response.prepare(request)
    block = b"x" * 65536
    sent = 0
    while sent < min(size, cut):
        n = min(size, cut, sent + len(block)) - sent
        data = b"".join((sent + i).to_bytes(8, "big") for i in range(0, n, 8))[:n] if offsets else block[:n]
        await response.write(data)
        sent += n
    if cut < size:
        assert request.transport is not None
        request.transport.abort()  # a crash mid-body: fewer bytes than the Content-Length promised
    return response


async def upload(request: web.Request) -> web.Response:
    total = 0
    async for chunk in request.content.iter_any():
        total += len(chunk)
    return web.json_response({"received": total})


async def events(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    for i in range(int(request.query.get("count", "5"))):
        await response.write(f"data: event {i}\n\n".encode())
        await asyncio.sleep(float(request.query.get("every", "0.3")))
    return response


async def slow(request: web.Request) -> web.Response:
    """Answers (head and all) only after ``?seconds=``."""
    await asyncio.sleep(float(request.query.get("seconds", "1")))
    return web.json_response({"slept": True, "pid": os.getpid()})


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/target?from=redirect")


async def cookie(request: web.Request) -> web.Response:
    response = web.json_response({"ok": True})
    response.set_cookie("session", "abc", path="/")
    response.set_cookie("scoped", "def", path="/admin")
    return response


async def websocket(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=("chat.v2", "chat.v1"), autoping=True)
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            if message.data.startswith("close:"):
                await ws.close(code=int(message.data.split(":")[1]), message=b"bye")
                break
            await ws.send_str(f"echo {message.data} pid={os.getpid()}")
        elif message.type is WSMsgType.BINARY:
            await ws.send_bytes(message.data[::-1])
    return ws


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--term-delay", type=float, default=0.0, help="linger this long after SIGTERM")
    parser.add_argument("--unix-socket", help="listen on this Unix socket instead of the port")
    args = parser.parse_args()
    app = web.Application(client_max_size=0)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/download", download)
    app.router.add_post("/upload", upload)
    app.router.add_get("/events", events)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/slow", slow)
    app.router.add_get("/cookie", cookie)
    app.router.add_route("*", "/{tail:.*}", echo)

    async def serve() -> None:
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        if args.unix_socket:
            await web.UnixSite(runner, args.unix_socket).start()
        else:
            await web.TCPSite(runner, "127.0.0.1", args.port).start()
        print(f"web app listening on {args.unix_socket or args.port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_term() -> None:
            print("got SIGTERM", flush=True)
            loop.call_later(args.term_delay, stop.set)

        loop.add_signal_handler(signal.SIGTERM, on_term)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
