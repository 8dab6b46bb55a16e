"""WebSockets and the proxy's limits (issue 14, parts 1 and 5).

A tunnel holds a connection to the service of its own for as long as it is open, outside the
upstream pool (which counts HTTP requests only), so WebSockets have a per-service limit of their
own: past it a handshake is answered 503 with Retry-After, other services keep accepting, and a
slot comes back when a socket closes or its handshake fails. (Control frames over the message size
limit are refused in tests/test_credentials.py::test_websocket_control_frames_obey_the_size_limit.)
Real server, real aiohttp app, real sockets.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import web_command
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketError, websocket_connect


@pytest.fixture
def ws_base(jp_http_port, jp_base_url):
    return f"ws://127.0.0.1:{jp_http_port}{jp_base_url}"


async def open_socket(ws_base: str, path: str, headers: dict[str, str]) -> WebSocketClientConnection:
    ws = await websocket_connect(HTTPRequest(ws_base + path, headers=headers, request_timeout=30))
    await ws.write_message("hi")
    assert (await ws.read_message()) is not None  # the tunnel works end to end
    return ws


async def refused(ws_base: str, path: str, headers: dict[str, str]) -> HTTPClientError:
    with pytest.raises(HTTPClientError) as info:
        await websocket_connect(HTTPRequest(ws_base + path, headers=headers, request_timeout=30))
    return info.value


@pytest.mark.parametrize("svc_config", [{"websocket_connections_per_service": 3}])
async def test_websockets_count_against_a_per_service_limit(api, ws_base, jp_auth_header, svc_config):
    for name in ("wsa", "wsb"):
        code, view = await api("POST", "services", {"name": name, "command": web_command()}, wait=30)
        assert code == 201 and view["status"]["state"] == "ready", view
    held = [await open_socket(ws_base, "svc/wsa/ws", jp_auth_header) for _ in range(3)]

    error = await refused(ws_base, "svc/wsa/ws", jp_auth_header)
    assert error.code == 503, error
    assert error.response is not None and error.response.headers["Retry-After"]
    assert "websocket_connections_per_service" in json.loads(error.response.body)["message"]

    other = await open_socket(ws_base, "svc/wsb/ws", jp_auth_header)  # another service is not held up
    other.close()

    held.pop().close()  # a closed socket gives its slot back
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            held.append(await open_socket(ws_base, "svc/wsa/ws", jp_auth_header))
            break
        except HTTPClientError as exc:
            assert exc.code == 503 and asyncio.get_running_loop().time() < deadline, exc
            await asyncio.sleep(0.1)
    for ws in held:
        ws.close()


@pytest.mark.parametrize("svc_config", [{"websocket_connections_per_service": 2}])
async def test_a_refused_handshake_gives_its_slot_back(api, ws_base, jp_auth_header, svc_config):
    code, view = await api("POST", "services", {"name": "wsr", "command": web_command()}, wait=30)
    assert code == 201, view
    for _ in range(5):  # more refusals than the limit: each one's slot came back
        # the app answers this path with a plain 200 (the proxy passes its status on): no socket
        with pytest.raises(WebSocketError, match="Non-websocket response"):
            await websocket_connect(HTTPRequest(ws_base + "svc/wsr/not-a-socket", headers=jp_auth_header,
                                                request_timeout=30))
    sockets = [await open_socket(ws_base, "svc/wsr/ws", jp_auth_header) for _ in range(2)]
    for ws in sockets:
        ws.close()
