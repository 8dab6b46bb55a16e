"""Issue 14 part 5: no credential of Jupyter's or JupyterHub's reaches a service, however spelled;
services do not inherit the server's credentials; the login redirect keeps the login URL's query;
an anonymous client cannot tell unknown names from private services; forwarding headers are the
proxy's own; WebSocket control frames obey the message size limit. Real server, real apps."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import echo_command, web_command
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_svc.proxy.tunnel import FrameGuard, MessageTooBig

#: An app that answers every GET with its whole environment, as JSON.
ENV_APP = """
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(dict(os.environ)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def token(jp_serverapp):
    return jp_serverapp.identity_provider.token


@pytest.fixture
def fetch(base):
    async def call(path: str, headers: dict[str, str] | None = None, **kwargs):
        kwargs.setdefault("request_timeout", 60)
        kwargs.setdefault("follow_redirects", False)
        return await AsyncHTTPClient().fetch(HTTPRequest(base + path, headers=headers or {}, **kwargs),
                                             raise_error=False)

    return call


async def create(api, spec, wait=20):
    code, view = await api("POST", "services", spec, wait=wait)
    assert code == 201, view
    return view


async def login_cookie(fetch, token) -> str:
    """A logged-in browser's Cookie header (Jupyter's login cookie), got with the token once."""
    response = await fetch("api/me", {"Authorization": f"token {token}"})
    cookies = "; ".join(c.split(";")[0] for c in response.headers.get_list("Set-Cookie"))
    assert "username-" in cookies
    return cookies


def test_credential_rules():
    from jupyter_svc.proxy.headers import is_jupyter_authorization, strip_credential_cookies, strip_token_query

    assert strip_token_query("x=1&token=t&y=2") == "x=1&y=2"
    assert strip_token_query("%74oken=t&x=%41") == "x=%41"  # names decoded as tornado does; values kept
    assert strip_token_query("tok%65n=t&to+ken=1&tokens=2") == "to+ken=1&tokens=2"
    assert strip_credential_cookies(
        "_xsrf=1; username-127-0-0-1-8888=2; jupyterhub-user-alice=3; jupyterhub-session-id=4; "
        "jupyterhub-hub-login=5; custom-login=6; app=7; xsrf=8", login_cookie="custom-login") == "app=7; xsrf=8"
    for value in ("token abc", "Bearer abc", "BEARER abc", "  token\tabc", "bearer"):
        assert is_jupyter_authorization(value, token_authenticated=False), value
    assert not is_jupyter_authorization("Basic dTpw", token_authenticated=False)
    assert not is_jupyter_authorization("Tokenish abc", token_authenticated=False)
    assert is_jupyter_authorization("Basic dTpw", token_authenticated=True)  # it was Jupyter's credential


async def test_no_jupyter_or_hub_credential_reaches_a_service(api, fetch, token, jp_base_url):
    await create(api, {"name": "web", "command": web_command()})
    await create(api, {"name": "open", "command": web_command(), "public": True})
    hub_cookies = "_xsrf=x1; jupyterhub-user-alice=h1; jupyterhub-session-id=h2; app=1"
    seen = []
    for headers, path in [
        ({"Authorization": f"Bearer {token}"}, "svc/web/a?x=1"),
        ({"Authorization": f"bearer {token}"}, "svc/web/a?x=1"),
        ({}, f"svc/web/a?%74oken={token}&x=1"),
        ({}, f"svc/web/a?x=1&tok%65n={token}"),
        ({"Authorization": f"token {token}", "X-XSRFToken": "x1", "X-CSRFToken": "x1", "Cookie": hub_cookies},
         "svc/web/a?x=1"),
        ({"Authorization": "Bearer someone-elses", "Cookie": hub_cookies}, "svc/open/a?x=1"),
    ]:
        response = await fetch(path, headers)
        assert response.code == 200, (path, headers, response.code)
        seen.append(json.loads(response.body))
    for echo in seen:
        assert echo["path"] == "/a?x=1", echo["path"]
        assert "Authorization" not in echo["headers"], echo["headers"]
        assert not {"X-Xsrftoken", "X-Csrftoken"} & set(echo["headers"])
        assert echo["headers"].get("Cookie", "app=1") == "app=1"
        assert token not in json.dumps(echo)

    # an app's own Basic login passes when Jupyter authenticated the browser by its cookie
    cookies = await login_cookie(fetch, token)
    basic = "Basic " + base64.b64encode(b"user:pass").decode()
    response = await fetch("svc/web/a", {"Cookie": cookies + "; app=2", "Authorization": basic})
    assert response.code == 200
    headers = json.loads(response.body)["headers"]
    assert headers["Authorization"] == basic and headers["Cookie"] == "app=2"
    # ... but not when Jupyter took a token from the request: whatever it sent was Jupyter's
    response = await fetch(f"svc/web/a?token={token}", {"Authorization": basic})
    assert response.code == 200 and "Authorization" not in json.loads(response.body)["headers"]


async def test_forwarding_headers_are_the_proxys_own(api, fetch, token):
    await create(api, {"name": "web", "command": web_command()})
    response = await fetch("svc/web/a", {"Authorization": f"token {token}", "X-Forwarded-Host": "evil.example",
                                         "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https",
                                         "X-Forwarded-Port": "443", "X-Forwarded-Prefix": "/elsewhere",
                                         "Forwarded": "for=203.0.113.9;host=evil.example", "X-Real-IP": "203.0.113.9"})
    headers = json.loads(response.body)["headers"]
    assert headers["X-Forwarded-Host"] == urlsplit(response.effective_url).netloc
    assert headers["X-Forwarded-For"] == "127.0.0.1" and headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Prefix"].endswith("svc/web")
    assert not {"Forwarded", "X-Real-Ip", "X-Forwarded-Port"} & set(headers), headers


async def test_services_do_not_inherit_the_servers_credentials(api, fetch, token, monkeypatch):
    """The server runs in this process, so its environment is this test's."""
    server_env = {"JUPYTERHUB_API_TOKEN": "hub-secret", "JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api",
                  "JUPYTERHUB_USER": "alice", "JPY_API_TOKEN": "old-hub-secret", "JUPYTER_TOKEN": token,
                  "PLAIN_SETTING": "kept"}
    for key, value in server_env.items():
        monkeypatch.setenv(key, value)
    command = [sys.executable, "-c", ENV_APP, "{port}"]
    await create(api, {"name": "plain", "command": command})
    await create(api, {"name": "asks", "command": command, "inherit_env": ["JUPYTERHUB_API_URL"]})
    auth = {"Authorization": f"token {token}"}
    plain = json.loads((await fetch("svc/plain/", auth)).body)
    asks = json.loads((await fetch("svc/asks/", auth)).body)
    assert plain["PLAIN_SETTING"] == "kept" and plain["PATH"] == os.environ["PATH"]
    withheld = [k for k in plain if k.startswith(("JUPYTERHUB_", "JPY_", "JUPYTER_TOKEN", "JUPYTER_SVC_TOKEN"))]
    assert not withheld, withheld
    assert "hub-secret" not in json.dumps(plain) and token not in json.dumps(plain)
    assert asks["JUPYTERHUB_API_URL"] == server_env["JUPYTERHUB_API_URL"]  # named: inherited, that one only
    assert "JUPYTERHUB_API_TOKEN" not in asks and "JUPYTERHUB_USER" not in asks


@pytest.fixture
def svc_login_url(request) -> str:
    return getattr(request, "param", "")


@pytest.fixture
def jp_server_config(jp_server_config, svc_login_url):
    """conftest's config, plus a login URL with its own query (as JupyterHub's OAuth authorize URL)."""
    if svc_login_url:
        jp_server_config["ServerApp"]["tornado_settings"] = {"login_url": svc_login_url}
    return jp_server_config


@pytest.mark.parametrize("svc_login_url", ["", "/hub/api/oauth2/authorize?client_id=jupyterhub-user-alice"
                                               "&redirect_uri=%2Fuser%2Falice%2Foauth_callback&state=s%3D1"],
                         indirect=True)
async def test_login_redirect_keeps_the_login_urls_query_and_encodes_next(api, fetch, svc_login_url, jp_base_url):
    await create(api, {"name": "private", "command": echo_command()})
    response = await fetch("svc/private/page?a=1&b=%2F")
    assert response.code == 302
    location = urlsplit(response.headers["Location"])
    query = parse_qs(location.query, strict_parsing=True)
    assert query.pop("next") == [f"{jp_base_url}svc/private/page?a=1&b=%2F"]  # one value, decoded whole
    if svc_login_url:
        login = urlsplit(svc_login_url)
        assert location.path == login.path
        assert query == parse_qs(login.query)  # the OAuth state survives untouched
    else:
        assert location.path == f"{jp_base_url}login" and not query


UPGRADE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


async def test_anonymous_clients_cannot_tell_unknown_names_from_private_services(api, fetch, base, token):
    await create(api, {"name": "private", "command": echo_command()})
    answers = {}
    for name in ("private", "nothere"):
        get = await fetch(f"svc/{name}/x")
        post = await fetch(f"svc/{name}/x", method="POST", body=b"{}")
        ws = await fetch(f"svc/{name}/x", UPGRADE)
        location = get.headers.get("Location", "").replace(name, "NAME")
        answers[name] = (get.code, location, post.code, post.body, ws.code, ws.body)
    assert answers["private"] == answers["nothere"], answers
    assert answers["private"][0] == 302 and answers["private"][2] == 403 and answers["private"][4] == 403
    assert (await fetch("svc/nothere/x", {"Authorization": f"token {token}"})).code == 404  # a user is told


async def _raw_websocket(base: str, path: str, token: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    url = urlsplit(base + path)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write((f"GET {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: token {token}\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    assert head.startswith(b"HTTP/1.1 101"), head
    return reader, writer


def _client_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 \
        else bytes([0x80 | 127]) + struct.pack(">Q", n)
    return bytes([0x80 | opcode]) + length + b"\0\0\0\0" + payload  # a zero mask keeps it readable


@pytest.mark.parametrize("svc_config", [{"websocket_max_message_size": 1000}])
async def test_websocket_control_frames_count_toward_the_size_limit(api, base, token, svc_config):
    await create(api, {"name": "wsl", "command": web_command()})
    reader, writer = await _raw_websocket(base, "svc/wsl/ws", token)
    try:
        writer.write(_client_frame(0x9, b"p" * 100))  # a ping within the limit: the service pongs
        answer = await asyncio.wait_for(reader.readexactly(2), 10)
        assert answer[0] & 0x0F == 0xA and answer[1] == 100
        await reader.readexactly(100)
        writer.write(_client_frame(0x9, b"p" * 3000))  # a ping over it: closed with 1009
        answer = await asyncio.wait_for(reader.readexactly(4), 10)
        assert answer[0] & 0x0F == 0x8 and struct.unpack(">H", answer[2:4])[0] == 1009
    finally:
        writer.close()
    guard = FrameGuard(limit=1000)
    guard.feed(_client_frame(0xA, b"x" * 125))
    with pytest.raises(MessageTooBig):
        guard.feed(_client_frame(0xA, b"x" * 1001)[:10])  # refused from its header alone
