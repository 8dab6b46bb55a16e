"""Malformed answers through a real Jupyter server: the browser gets a clear 502 (or, for a refused
WebSocket, the service's own status), the proxy's pooled connection to the service is dropped, and
nothing is logged as "Fatal error". The service is a scripted asyncio server on 127.0.0.1, in this
process, registered as an external service (url), so that each answer is exactly the bytes a
test needs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any

from test_strict_http import MALFORMED, OK
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455
CASES = sorted(MALFORMED)
WS_FOLDED = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"X-Note: one\r\n two\r\n\r\n")


def _ws_accept(request: bytes) -> bytes:
    key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    return base64.b64encode(hashlib.sha1(key + WS_GUID).digest())


class ScriptedService:
    """Answers by path: ``/ok``, ``/bad/<i>`` (the i-th malformed answer), ``/ws-*``. Notes which
    connection carried each request and which connections the proxy closed."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, str]] = []
        self.closed: list[int] = []
        self.connections = 0
        self.handlers: set[asyncio.Task[None]] = set()

    def answer(self, path: str, request: bytes) -> bytes:
        if path.startswith("/bad/"):
            return MALFORMED[CASES[int(path.rsplit("/", 1)[1])]][0]
        if path == "/ws-refused":
            return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope"
        if path == "/ws-folded":
            return WS_FOLDED
        if path == "/ws-ok":  # the 101 and a first frame in one write: the frame must not be lost
            return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Accept: %b\r\n\r\n\x81\x05hello" % _ws_accept(request))
        return OK

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.connections += 1
        number = self.connections
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                path = request.split(b" ", 2)[1].decode()
                self.requests.append((number, path))
                writer.write(self.answer(path, request))
        except (asyncio.IncompleteReadError, ConnectionError):
            self.closed.append(number)
        finally:
            writer.close()
            self.handlers.discard(task)

    async def stop(self, server: asyncio.AbstractServer) -> None:
        """Stop listening and end the connections still open (the proxy's pooled ones)."""
        server.close()
        for task in list(self.handlers):
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)


async def _serve(api: Any) -> tuple[ScriptedService, asyncio.AbstractServer]:
    service = ScriptedService()
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    code, view = await api("POST", "services", {"name": "strict", "url": f"http://127.0.0.1:{port}"}, wait=5)
    assert code == 201, view
    return service, server


def _logged(caplog: Any, words: str) -> list[str]:
    """Log lines of this test with ``words``: the server's log and asyncio's both reach caplog."""
    return [record.getMessage() for record in caplog.records if words in record.getMessage()]


async def test_malformed_answers_are_502_and_their_connection_is_dropped(
        api, jp_http_port, jp_base_url, jp_auth_header, caplog):
    service, server = await _serve(api)
    client = AsyncHTTPClient()

    async def get(path: str) -> tuple[int, bytes]:
        response = await client.fetch(HTTPRequest(f"http://127.0.0.1:{jp_http_port}{jp_base_url}svc/strict{path}",
                                                  headers=jp_auth_header, request_timeout=30), raise_error=False)
        return response.code, response.body

    try:
        assert await get("/ok") == (200, b"ok")
        for index, case in enumerate(CASES):
            seen = len(service.requests)
            code, body = await get(f"/bad/{index}")
            assert code == 502, (case, code, body)
            message = json.loads(body)["message"]
            assert message.startswith("strict did not answer: malformed HTTP response"), message
            assert MALFORMED[case][1] in message, message
            assert await get("/ok") == (200, b"ok"), case
            (before, bad), (after, ok) = service.requests[seen:]
            assert bad == f"/bad/{index}" and ok == "/ok"
            assert after == before + 1 == service.connections, case  # a new connection, not the broken one
            await asyncio.sleep(0.02)
            assert before in service.closed, case  # the proxy closed it at once
    finally:
        await service.stop(server)
    assert len(_logged(caplog, "502 GET")) == len(CASES)  # the server's log is read here ...
    assert _logged(caplog, "Fatal error") == []  # ... and has no Fatal error


async def _handshake(port: int, path: str, auth: dict[str, str]) -> tuple[int, str]:
    """A WebSocket handshake by hand; the status and the proxy's message."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = {"Host": f"127.0.0.1:{port}", "Upgrade": "websocket", "Connection": "Upgrade",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13", **auth}
    writer.write((f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                  + "\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    body = await reader.readexactly(length)
    writer.close()
    return int(head.split(b" ", 2)[1]), json.loads(body)["message"]


async def test_websocket_answers_refused_malformed_and_accepted(
        api, jp_http_port, jp_base_url, jp_auth_header, caplog):
    service, server = await _serve(api)
    try:
        code, message = await _handshake(jp_http_port, f"{jp_base_url}svc/strict/ws-refused", jp_auth_header)
        assert (code, message) == (403, "strict refused the WebSocket: HTTP 403 Forbidden")
        code, message = await _handshake(jp_http_port, f"{jp_base_url}svc/strict/ws-folded", jp_auth_header)
        assert code == 502 and "malformed HTTP" in message and "obs-fold" in message, message
        url = f"ws://127.0.0.1:{jp_http_port}{jp_base_url}svc/strict/ws-ok"
        ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
        assert await asyncio.wait_for(ws.read_message(), 10) == "hello"  # came in the 101's own read
        ws.close()
    finally:
        await service.stop(server)
    assert [path for _, path in service.requests] == ["/ws-refused", "/ws-folded", "/ws-ok"]
    assert _logged(caplog, "Fatal error") == [] and len(_logged(caplog, "502 GET")) == 1
