"""Every private part of tornado and jupyter_server named in jupyter_svc/proxy/compat.py, checked
against the installed versions on a real Jupyter server: one test each, so that an upgrade that
removes or renames one fails here by name. The handlers below exist only for these checks."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from typing import Any, ClassVar

import pytest
from jupyter_server.auth import User
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.prometheus.log_functions import prometheus_log_method
from jupyter_server.prometheus.metrics import HTTP_REQUEST_DURATION_SECONDS
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_svc.proxy import compat

SEEN: dict[str, Any] = {}


class LoginNeeded(JupyterHandler):
    """No allow_unauthenticated: Jupyter's prepare() sends anonymous browsers to log in (when the
    server does not allow unauthenticated access)."""

    def get(self) -> None:
        self.finish("ok")


class Identity(JupyterHandler):
    """The same, through compat's prepare."""

    async def prepare(self) -> None:  # type: ignore[override]
        SEEN["checked_before"] = compat.identity_checked(self)
        if self.request.headers.get("X-Known"):
            compat.accept_identity(self, User("remembered"), True)
        await compat.prepare_without_login_redirect(self)
        SEEN["checked_after"] = compat.identity_checked(self)
        SEEN["user"] = getattr(self.current_user, "username", None)
        SEEN["by_token"] = self.token_authenticated

    def get(self) -> None:
        self.finish("ok")


class Response(JupyterHandler):
    @allow_unauthenticated
    async def get(self) -> None:
        SEEN["finished_before"] = compat.finished(self)
        self.set_header("X-Probe", "set")
        SEEN["header"] = compat.header_set(self, "X-Probe")
        SEEN["transformed"] = compat.output_transformed(self)
        SEEN["sent_before"] = compat.headers_sent(self)
        self.write("partial ")
        await self.flush()
        SEEN["sent_after"] = compat.headers_sent(self)
        if self.get_argument("cut", None):
            compat.cut(self)
            return
        self.finish("whole")
        SEEN["finished_after"] = compat.finished(self)
        prometheus_log_method(self)  # what Jupyter's request logger records for this handler


@web.stream_request_body
class Limited(JupyterHandler):
    received = 0

    def prepare(self) -> None:  # type: ignore[override]
        compat.limit_body_size(self, int(self.get_argument("limit")))

    def data_received(self, chunk: bytes) -> None:
        self.received += len(chunk)

    @allow_unauthenticated
    def post(self) -> None:
        self.finish(str(self.received))


class Detached(JupyterHandler):
    @allow_unauthenticated
    async def get(self) -> None:
        stream = self.detach()  # public tornado API, but HTTP/1.1 only: checked here too
        await stream.write(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\ndetached")
        stream.close()


class WrittenPast(JupyterHandler):
    """A body of a known length written to the socket past tornado, as the proxy splices one."""

    @allow_unauthenticated
    async def get(self) -> None:
        body = b"written past tornado"
        chunked = self.get_argument("chunked", None)
        if not chunked:
            self.set_header("Content-Length", str(len(body)))
        SEEN["target_before_head"] = compat.splice_target(self, len(body))
        await self.flush()
        SEEN["wrong_length"] = compat.splice_target(self, len(body) + 1)
        target = compat.splice_target(self, len(body))
        SEEN["target"] = target
        if target is None:
            self.finish(body)
            return
        os.write(target, body)
        compat.count_written(self, len(body))
        self.finish()  # tornado checks that the whole Content-Length went out


class Held(JupyterHandler):
    gone: ClassVar[asyncio.Event]

    @allow_unauthenticated
    async def get(self) -> None:
        self.write("held")
        await self.flush()
        await Held.gone.wait()

    def on_connection_close(self) -> None:
        SEEN["had_close_reason"] = compat.forget_close_reason(self)
        Held.gone.set()


class Logged(compat.AccessLogHook, JupyterHandler):
    def log_request(self) -> None:
        SEEN["hook"] = True
        super().log_request()

    @allow_unauthenticated
    def get(self) -> None:
        self.finish("ok")


@pytest.fixture
def probes(jp_serverapp: Any, jp_base_url: str, jp_fetch: Any) -> str:
    """The probe handlers on the real server (listening: jp_fetch starts it), ahead of its
    catch-all routes; their base path."""
    SEEN.clear()
    Held.gone = asyncio.Event()
    app = jp_serverapp.web_app
    routes = [("login-needed", LoginNeeded), ("identity", Identity), ("response", Response), ("limited", Limited),
              ("detached", Detached), ("held", Held), ("logged", Logged), ("written-past", WrittenPast)]
    app.add_handlers(".*$", [(url_path_join(jp_base_url, "compat", path), handler) for path, handler in routes])
    rules = app.default_router.rules
    (ours,) = [r for r in rules if any(getattr(inner, "target", None) is Identity for inner in r.target.rules)]
    rules.insert(0, rules.pop(rules.index(ours)))
    return url_path_join(jp_base_url, "compat") + "/"


@pytest.fixture
def get(jp_http_port: int, probes: str) -> Any:
    async def call(path: str, **kwargs: Any) -> Any:
        request = HTTPRequest(f"http://127.0.0.1:{jp_http_port}{probes}{path}", follow_redirects=False, **kwargs)
        return await AsyncHTTPClient().fetch(request, raise_error=False)

    return call


@pytest.fixture
def connect(jp_http_port: int, probes: str) -> Any:
    """A raw connection that has sent ``GET <probe path>``: to read exactly what the server sends."""

    async def call(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write(f"GET {probes}{path} HTTP/1.1\r\nHost: 127.0.0.1:{jp_http_port}\r\n\r\n".encode())
        return reader, writer

    return call


async def test_identity_checked_accept_identity_and_prepare_without_login_redirect(get, jp_auth_header,
                                                                                  jp_serverapp):
    settings = jp_serverapp.web_app.settings
    allowed, settings["allow_unauthenticated_access"] = settings["allow_unauthenticated_access"], False
    try:
        assert (await get("login-needed")).code == 302  # Jupyter's own prepare(): off to log in
        response = await get("identity")
    finally:
        settings["allow_unauthenticated_access"] = allowed
    assert response.code == 403 and SEEN == {"checked_before": False}  # refused, not redirected

    response = await get("identity", headers=jp_auth_header)
    assert response.code == 200 and SEEN["user"] is not None and SEEN["by_token"] is True
    assert SEEN["checked_before"] is False and SEEN["checked_after"] is True

    response = await get("identity", headers={"X-Known": "1"})  # no credentials at all
    assert response.code == 200 and SEEN["user"] == "remembered" and SEEN["by_token"] is True


async def test_response_state_header_transforms_and_histogram_label(get, jp_serverapp):
    response = await get("response")
    assert response.code == 200 and response.body == b"partial whole"
    assert SEEN == {"finished_before": False, "header": "set", "transformed": False, "sent_before": False,
                    "sent_after": True, "finished_after": True}
    label = compat.histogram_label(Response)
    samples = [s for metric in HTTP_REQUEST_DURATION_SECONDS.collect() for s in metric.samples
               if s.labels.get("handler") == label]
    assert samples, f"Jupyter's histogram has no handler label {label!r}"

    transforms = jp_serverapp.web_app.transforms
    transforms.append(web.GZipContentEncoding)  # what compress_response=True would add
    try:
        await get("response")
    finally:
        transforms.remove(web.GZipContentEncoding)
    assert SEEN["transformed"] is True


async def test_cut_closes_a_response_under_way(connect):
    reader, writer = await connect("response?cut=1")
    received = await asyncio.wait_for(reader.read(), 10)  # read until the server closes
    writer.close()
    assert received.startswith(b"HTTP/1.1 200") and received.endswith(b"\r\n8\r\npartial \r\n")  # no last chunk


async def test_limit_body_size_per_request(get):
    small = await get("limited?limit=1000", method="POST", body=b"x" * 800)
    assert small.code == 200 and small.body == b"800"
    big = await get("limited?limit=1000", method="POST", body=b"x" * 2000)
    assert big.code == 400


async def test_detach_hands_over_the_connection(connect):
    reader, writer = await connect("detached")
    received = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert received == b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\ndetached"  # nothing else


async def test_splice_target_and_count_written(connect):
    for query, framed in (("", True), ("?chunked=1", False)):
        reader, writer = await connect("written-past" + query)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        if framed:
            body = await asyncio.wait_for(reader.readexactly(20), 10)
        else:
            body = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), 10)
        writer.close()
        assert head.startswith(b"HTTP/1.1 200") and b"written past tornado" in body
        assert SEEN["target_before_head"] is None and SEEN["wrong_length"] is None
        assert (SEEN["target"] is not None) is framed  # a chunked body is tornado's to frame


async def test_forget_close_reason_finds_why_the_client_left(connect):
    reader, writer = await connect("held")
    await reader.readuntil(b"held")
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()  # a reset, as a browser that vanished: tornado keeps the error
    await asyncio.wait_for(Held.gone.wait(), 10)
    assert SEEN["had_close_reason"] is True


async def test_access_log_hook_runs_on_finish_and_defaults_to_the_log_function(get, jp_serverapp):
    settings = jp_serverapp.web_app.settings
    jupyter_log = settings["log_function"]
    logged: list[str] = []

    def spy(handler: web.RequestHandler) -> None:
        logged.append(handler.request.path)
        jupyter_log(handler)

    settings["log_function"] = spy
    try:
        response = await get("logged")
    finally:
        settings["log_function"] = jupyter_log
    assert response.code == 200 and SEEN["hook"] is True
    assert logged and logged[-1].endswith("/compat/logged")


async def test_not_server_activity(api, jp_fetch, jp_serverapp):
    settings = jp_serverapp.web_app.settings
    settings.pop("api_last_activity", None)
    await jp_fetch("svc", "api", "metrics")  # decorated: polling it is no activity
    await jp_fetch("svc", "api", "activity")
    assert "api_last_activity" not in settings
    await jp_fetch("svc", "api", "services")  # any other API call is
    assert "api_last_activity" in settings


def test_extension_start_hook(svc_started):
    """`_start_jupyter_server_extension` is the hook ExtensionApp documents for async start work;
    server/app.py overrides it (restore services, idle loop, the server's URL)."""
    assert "_start_jupyter_server_extension" in vars(ExtensionApp)
    (app,) = svc_started.extension_manager.extension_apps["jupyter_svc"]
    assert app.manager.server_url.startswith("http://")


async def test_take_socket_hands_over_a_clean_plain_stream_only() -> None:
    """tornado's read buffer (private ``_read_buffer_size``) decides: bytes read ahead stay with the
    stream (None); a clean stream gives its connection to a new socket and closes itself."""
    from tornado.iostream import IOStream

    for ahead in (b"early frame", b""):
        ours, theirs = socket.socketpair()
        stream = IOStream(ours)
        if ahead:
            theirs.sendall(ahead)
            assert await stream.read_bytes(1) == ahead[:1]  # the rest is now in tornado's buffer
            assert compat.take_socket(stream) is None and not stream.closed()
            stream.close()
            theirs.close()
            continue
        await stream.write(b"handshake answer")
        taken = compat.take_socket(stream)
        assert taken is not None and stream.closed()
        assert theirs.recv(100) == b"handshake answer"
        theirs.sendall(b"ping")
        taken.settimeout(5)
        assert taken.recv(4) == b"ping"  # the connection outlived the stream's close
        taken.close()
        theirs.close()
