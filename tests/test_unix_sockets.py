"""Services on Unix sockets (issue 14: other local users cannot reach them): a real aiohttp app
listening on the socket ``{unix_socket}`` names, proxied over HTTP and WebSocket; the socket's
folder is private (0700), and the socket is gone once the service stops or is deleted."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from urllib.parse import unquote

import pytest
from conftest import wait_for_state, web_command
from test_upstream import fetch as fetch_upstream
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.backends.local.sockets import MAX_SOCKET_PATH, SocketFolder
from jupyter_svc.model.placeholders import fill
from jupyter_svc.upstream.pool import UpstreamPool

SOCKET_APP = web_command("--unix-socket", "{unix_socket}")


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


async def fetch(base: str, path: str, headers: dict[str, str], **kwargs):
    request = HTTPRequest(base + path, headers=headers, request_timeout=60, follow_redirects=False, **kwargs)
    return await AsyncHTTPClient().fetch(request, raise_error=False)


def socket_of(view: dict) -> str:
    endpoint = view["status"]["endpoint"]
    assert endpoint.startswith("http+unix://"), endpoint
    return unquote(endpoint[len("http+unix://"):])


async def test_a_service_on_a_unix_socket_is_proxied_over_http_and_websocket(api, base, jp_auth_header):
    code, view = await api("POST", "services", {"name": "sock", "command": SOCKET_APP}, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    path = socket_of(view)
    assert len(os.fsencode(path)) <= MAX_SOCKET_PATH
    assert stat.S_ISSOCK(os.lstat(path).st_mode)
    folder = os.lstat(os.path.dirname(path))
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.getuid()

    response = await fetch(base, "svc/sock/hello?x=1", jp_auth_header)
    assert response.code == 200, response.body
    seen = __import__("json").loads(response.body)
    assert seen["path"] == "/hello?x=1"
    assert seen["headers"]["Host"] == "localhost"  # no host:port over a socket

    response = await fetch(base, "svc/sock/upload", jp_auth_header, method="POST", body=b"y" * 300_000)
    assert __import__("json").loads(response.body) == {"received": 300_000}

    url = base.replace("http", "ws", 1) + "svc/sock/ws"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header), subprotocols=["chat.v1"])
    assert ws.selected_subprotocol == "chat.v1"
    await ws.write_message("over a socket")
    answer = await ws.read_message()
    assert isinstance(answer, str) and answer.startswith("echo over a socket pid=")
    await ws.write_message(b"\x01\x02", binary=True)
    assert await ws.read_message() == b"\x02\x01"
    ws.close()

    code, view = await api("POST", "services/sock/scale", {"replicas": 0}, wait=20)
    assert view["status"]["state"] == "scaled_to_zero", view
    assert not os.path.exists(path), "the socket outlived its instance"

    response = await fetch(base, "svc/sock/again", jp_auth_header)  # a wake: a new instance, a new socket
    assert response.code == 200, response.body
    _, view = await api("GET", "services/sock")
    second = socket_of(view)
    assert second != path and stat.S_ISSOCK(os.lstat(second).st_mode)
    code, _ = await api("DELETE", "services/sock")
    assert code == 204
    assert not os.path.exists(second), "the socket outlived its service"


async def test_an_update_runs_beside_the_old_version_on_a_socket_of_its_own(api, base, jp_auth_header):
    code, view = await api("POST", "services", {"name": "sock2", "command": SOCKET_APP}, wait=30)
    assert code == 201, view
    first = socket_of(view)
    code, view = await api("PATCH", "services/sock2", {"description": "v2", "env": {"V": "2"}}, wait=30)
    assert code == 200 and view["status"]["state"] == "ready", view
    second = socket_of(view)
    assert second != first
    assert not os.path.exists(first)  # the old instance stopped once the new one served
    response = await fetch(base, "svc/sock2/", jp_auth_header)
    assert response.code == 200
    await api("DELETE", "services/sock2")


async def test_an_app_that_never_listens_on_its_socket_fails_with_a_hint(api, svc_config):
    code, view = await api("POST", "services", {
        "name": "deaf", "command": web_command(), "env": {"SOCK": "{unix_socket}"},
        "readiness": {"timeout": "3s"}, "restart_policy": "never"}, wait=30)
    assert code in (201, 503), view
    view = await wait_for_state(api, "deaf", {"failed"}, timeout=30)
    assert "{unix_socket}" in view["status"]["message"], view["status"]["message"]
    await api("DELETE", "services/deaf")


def test_the_socket_folder_is_private_and_short(tmp_path: Path) -> None:
    old_umask = os.umask(0)  # mkdir's mode alone would give 0777 & ~umask: the folder is chmod'ed
    try:
        folder = SocketFolder(tmp_path / "rt")
        path = folder.socket_for("0123456789abcdef")
    finally:
        os.umask(old_umask)
    assert Path(path).parent == tmp_path / "rt" / "svc-sockets" or len(os.fsencode(tmp_path)) > 60
    assert stat.S_IMODE(os.lstat(Path(path).parent).st_mode) == 0o700
    assert path.endswith("/0123456789ab.sock")
    deep = tmp_path / ("d" * 90)
    long_folder = SocketFolder(deep)
    assert len(os.fsencode(long_folder.socket_for("feedfacecafe0000"))) <= MAX_SOCKET_PATH


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a folder owned by someone else")
def test_a_socket_folder_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    folder = SocketFolder(tmp_path)
    folder.path.mkdir(mode=0o700)
    os.chown(folder.path, 65534, 65534)
    with pytest.raises(Exception, match="not a folder of this user's"):
        folder.ensure()


def test_the_placeholder_is_filled_like_the_others() -> None:
    assert fill("--uds {unix_socket} --port {port}", {"unix_socket": "/s/a.sock", "port": "1"}) == \
        "--uds /s/a.sock --port 1"
    assert fill("{unix_socket}", {}) == "{unix_socket}"  # a backend without sockets leaves it as is


async def test_the_pool_keys_connections_by_transport(tmp_path: Path) -> None:
    """Two sockets behind the same host:port are two transports; each answers on its own."""
    servers = []
    for name in ("a", "b"):
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str = name) -> None:
            while await reader.readuntil(b"\r\n\r\n"):
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{name}".encode())
                await writer.drain()

        servers.append(await asyncio.start_unix_server(answer, str(tmp_path / f"{name}.sock")))
    pool = UpstreamPool()
    try:
        for name in ("a", "b", "a"):
            endpoint = Endpoint("localhost", 0, unix_socket=str(tmp_path / f"{name}.sock"))
            status, body = await fetch_upstream(pool, endpoint)
            assert (status, body) == (200, name.encode())
        keys = {conn.key for conn in pool._all}
        assert len(keys) == 2
    finally:
        await pool.close()
        for server in servers:
            server.close()


def test_svc_magic_listens_on_a_socket_when_the_server_prefers_it(tmp_path: Path) -> None:
    """c.LocalBackend.prefer_unix_sockets: `%svc fastapi` in a real kernel makes uvicorn listen on
    {unix_socket}; the proxy reaches it there."""
    pytest.importorskip("fastapi")
    from notebook_helpers.fixtures import fetch_until, run_notebook
    from notebook_helpers.server import live_server

    from jupyter_svc.client import Client

    with live_server(tmp_path, classes={"LocalBackend": {"prefer_unix_sockets": True}}) as live:
        (live.root_dir / "main.py").write_text(
            "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root():\n    return {'on': 'socket'}\n")
        client = Client(live.url, live.token)
        assert {b["name"]: b["unix_sockets"] for b in client.backends()["backends"]} == {"local": True}
        magic = f"%svc fastapi sockapi --app main:app --cwd {live.root_dir}"
        cells = run_notebook(live, ["%load_ext jupyter_svc", magic], env=live.client_env())
        assert not cells[1].errors, cells[1].all
        view = client.get("sockapi")
        assert view.status.endpoint.startswith("http+unix://"), view.status
        assert "--uds" not in " ".join(view.spec.command or []) and "{unix_socket}" in " ".join(view.spec.command or [])
        assert '"on":"socket"' in fetch_until(live, "svc/sockapi/", '"on"', timeout=60)
        client.delete("sockapi")
