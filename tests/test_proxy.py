"""The proxy at /svc/<name>/ against real apps: streaming, WebSockets, headers, access."""

from __future__ import annotations

import asyncio
import gc
import json
import uuid

import psutil
import pytest
from conftest import echo_command, wait_for_state, web_command
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


@pytest.fixture
def fetch(base, jp_auth_header):
    """Fetch through the proxy with Jupyter's token (or without, auth=False)."""

    async def call(path: str, auth: bool = True, client=None, **kwargs):
        headers = {**(jp_auth_header if auth else {}), **kwargs.pop("headers", {})}
        kwargs.setdefault("request_timeout", 60)
        kwargs.setdefault("follow_redirects", False)
        request = HTTPRequest(base + path, headers=headers, **kwargs)
        return await (client or AsyncHTTPClient()).fetch(request, raise_error=False)

    return call


async def create(api, spec, wait=20):
    code, view = await api("POST", "services", spec, wait=wait)
    assert code == 201, view
    return view


async def test_forwards_with_headers_and_rewrite(api, fetch, jp_base_url, jp_auth_header):
    await create(api, {"name": "web", "command": web_command()})
    token = jp_auth_header["Authorization"].split()[1]
    response = await fetch(f"svc/web/hello/there?x=1&token={token}", auth=False,
                           headers={"Cookie": "_xsrf=abc; app=1", "X-Custom": "yes"})
    assert response.code == 200, response.body
    seen = json.loads(response.body)
    assert seen["path"] == "/hello/there?x=1"  # prefix stripped, Jupyter's token not passed on
    headers = seen["headers"]
    assert headers["X-Forwarded-Prefix"] == f"{jp_base_url}svc/web"
    assert headers["X-Forwarded-Proto"] == "http" and headers["X-Custom"] == "yes"
    response = await fetch("svc/web/hello", headers={"Cookie": "app=1"})
    assert "Authorization" not in json.loads(response.body)["headers"]
    assert headers["Cookie"] == "app=1"  # Jupyter's cookies stay with Jupyter
    assert response.headers["X-Svc-Cold-Start"] == "false"
    assert len(response.headers.get_list("Date")) == 1 and "Access-Control-Allow-Origin" not in response.headers

    response = await fetch("svc/web/redirect")
    assert response.code == 302
    assert response.headers["Location"] == f"{jp_base_url}svc/web/target?from=redirect"
    response = await fetch("svc/web/cookie")
    cookies = response.headers.get_list("Set-Cookie")
    assert any(f"Path={jp_base_url}svc/web/" in c for c in cookies if c.startswith("session="))
    assert any(f"Path={jp_base_url}svc/web/admin/" in c for c in cookies if c.startswith("scoped="))

    response = await fetch("svc/web")
    assert response.code == 302 and response.headers["Location"].endswith("svc/web/")
    response = await fetch("svc/web/anything", method="POST", body=b"x" * 1000)
    assert json.loads(response.body)["body_bytes"] == 1000


PREFIXED_APP = """
import http.server, os, sys
prefix = os.environ["JUPYTER_SVC_BASE_URL"]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path.startswith(prefix)
        self.send_response(200 if ok else 404)
        self.end_headers()
        self.wfile.write(self.path.encode())
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


async def test_rewrite_path_off_keeps_the_prefix(api, fetch, jp_base_url):
    await create(api, {"name": "absolute", "command": echo_command(), "rewrite_path": False})
    response = await fetch("svc/absolute/page?q=2")
    assert json.loads(response.body)["path"] == f"{jp_base_url}svc/absolute/page?q=2"
    # an app that only answers under its prefix is probed there: ready, not failed
    import sys

    view = await create(api, {"name": "prefixed", "rewrite_path": False, "readiness": {"statuses": [200]},
                              "command": [sys.executable, "-c", PREFIXED_APP, "{port}"]})
    assert view["status"]["state"] == "ready", view["status"]
    response = await fetch("svc/prefixed/x")
    assert response.code == 200 and response.body.decode() == f"{jp_base_url}svc/prefixed/x"


async def test_access_rules(api, fetch):
    await create(api, {"name": "private", "command": echo_command()})
    await create(api, {"name": "open", "command": echo_command(), "public": True})
    response = await fetch("svc/private/", auth=False)
    assert response.code == 302 and "login" in response.headers["Location"]  # a browser is sent to log in
    response = await fetch("svc/private/", auth=False, method="POST", body=b"{}")
    assert response.code == 403
    response = await fetch("svc/open/", auth=False)
    assert response.code == 200
    # no route reaches anything that is not a registered service
    for path in ("svc/nothere/", "svc/127.0.0.1:22/", "svc/8888/", "proxy/22/", "svc/api/x"):
        response = await fetch(path, follow_redirects=True)  # jupyter drops a trailing slash first
        assert response.code == 404, (path, response.code, response.effective_url)
    # a cross-site form post with the user's cookie is refused
    response = await fetch("svc/open/", auth=False, method="POST", body=b"a=1",
                           headers={"Cookie": "username-x=1", "Origin": "http://evil.example"})
    assert response.code == 403


async def test_disabled_is_503_and_not_woken(api, fetch):
    await create(api, {"name": "off", "command": echo_command(), "desired_state": "disabled"})
    response = await fetch("svc/off/")
    assert response.code == 503 and b"disabled" in response.body
    _, view = await api("GET", "services/off")
    assert view["status"]["state"] == "disabled"


async def test_hundred_concurrent_requests_wake_once(api, fetch, jp_fetch):
    await create(api, {"name": "sleepy", "command": echo_command("--delay", "0.5"),
                       "desired_state": "scaled_to_zero"})
    client = AsyncHTTPClient(force_instance=True, max_clients=200)  # all 100 in flight at once
    responses = await asyncio.gather(*(fetch(f"svc/sleepy/r{i}", client=client) for i in range(100)))
    assert [r.code for r in responses] == [200] * 100
    assert len({json.loads(r.body)["pid"] for r in responses}) == 1  # one instance served them all
    assert all(r.headers["X-Svc-Cold-Start"] == "true" for r in responses)
    _, view = await api("GET", "services/sleepy")
    assert view["status"]["cold_starts"] == 1 and view["status"]["last_cold_start_ms"] >= 500
    steps = view["status"]["last_cold_start_steps"]  # where the wake's time went, in order
    assert list(steps) == ["queued", "spawn", "ready", "release"], steps
    assert steps["ready"] >= 500  # the app's own half-second start, found by the probe
    assert sum(steps.values()) == pytest.approx(view["status"]["last_cold_start_ms"], abs=0.1)
    metrics = (await jp_fetch("svc", "api", "metrics")).body.decode()
    assert 'jupyter_svc_wakes_total{service="sleepy"} 1.0' in metrics
    assert 'jupyter_svc_proxy_requests_total{code="200",service="sleepy"} 100.0' in metrics
    # woken from desired_state scaled_to_zero, scaling to 0 again stops it
    code, view = await api("POST", "services/sleepy/scale", {"replicas": 0}, wait=10)
    assert code == 200 and view["status"]["state"] == "scaled_to_zero"


async def test_failed_wake_releases_held_requests_at_once(api, fetch):
    script = "import sys; print('no config file, giving up', flush=True); sys.exit(4)"
    import sys

    await create(api, {"name": "broken", "command": [sys.executable, "-c", script],
                       "desired_state": "scaled_to_zero", "readiness": {"timeout": "30s"}})
    started = asyncio.get_running_loop().time()
    responses = await asyncio.gather(*(fetch("svc/broken/") for _ in range(5)))
    assert asyncio.get_running_loop().time() - started < 10  # not after the 30 s timeout
    for response in responses:
        assert response.code == 503
        assert b"no config file, giving up" in response.body


async def test_browser_navigation_gets_a_wake_page(api, fetch):
    await create(api, {"name": "lazy", "command": echo_command(), "desired_state": "scaled_to_zero"})
    response = await fetch("svc/lazy/", headers={"Accept": "text/html,*/*"})
    assert response.code == 503 and b"Waking <code>lazy</code>" in response.body
    assert response.headers["Retry-After"]
    await wait_for_state(api, "lazy", {"ready"})  # the page's request started it
    response = await fetch("svc/lazy/", headers={"Accept": "text/html"})
    assert response.code == 200


@pytest.mark.parametrize("svc_config", [{"idle_check_interval": 0.1}])
async def test_idle_service_scales_to_zero_and_wakes(api, fetch, svc_config):
    from test_lifecycle import no_process_left

    marker = "idle-marker-1"
    await create(api, {"name": "idler", "command": echo_command("--version", marker), "scale_to_zero": "1s"})
    view = await wait_for_state(api, "idler", {"scaled_to_zero"}, timeout=10)
    assert "without traffic" in view["status"]["message"]
    await no_process_left(marker)
    response = await fetch("svc/idler/")
    assert response.code == 200 and json.loads(response.body)["version"] == marker
    assert response.headers["X-Svc-Cold-Start"] == "true"


@pytest.mark.parametrize("svc_config", [{"idle_check_interval": 0.1}])
async def test_idle_scale_down_arrives_on_the_events_stream(api, jp_fetch, svc_config):
    """What the idle loop decides (the idle deadline, then the scale-down) reaches the events stream,
    the lab panel's source, and the stream's last word on the service is what GET answers."""
    buffer = bytearray()
    stream = asyncio.ensure_future(jp_fetch("svc", "api", "events", streaming_callback=buffer.extend,
                                            request_timeout=60))
    await asyncio.sleep(0.2)
    await create(api, {"name": "napper", "command": echo_command(), "scale_to_zero": "1s"})
    await wait_for_state(api, "napper", {"scaled_to_zero"}, timeout=10)
    await asyncio.sleep(0.5)  # a few more passes of the idle loop
    _, latest = await api("GET", "services/napper")
    await asyncio.sleep(0.2)
    stream.cancel()
    blocks = [block.split("\n", 1) for block in buffer.decode().split("\n\n") if block.startswith("event: service")]
    napper = [view for view in (json.loads(data[len("data: "):]) for _, data in blocks) if view["name"] == "napper"]
    assert any(v["status"]["state"] == "ready" and v["status"]["idle_deadline"] for v in napper), napper
    assert napper[-1]["status"]["state"] == "scaled_to_zero" and napper[-1]["status"]["idle_deadline"] is None
    assert napper[-1]["status"] == latest["status"]


async def test_deleting_a_service_under_traffic_is_never_a_500(api, fetch):
    """A DELETE while 20 requests wait on a slow wake (10 held before it, 10 arriving during it):
    each gets 404 or 503, and no instance outlives the service. Requests already forwarded to an
    external service when it is deleted get the answer that comes after."""
    from test_lifecycle import no_process_left

    marker = f"doomed-{uuid.uuid4().hex[:8]}"
    await create(api, {"name": "doomed", "command": echo_command("--delay", "2", "--version", marker),
                       "desired_state": "scaled_to_zero"})
    client = AsyncHTTPClient(force_instance=True, max_clients=50)
    held = [asyncio.ensure_future(fetch(f"svc/doomed/h{i}", client=client)) for i in range(10)]
    await wait_for_state(api, "doomed", {"waking"}, timeout=5)
    deletion = asyncio.ensure_future(api("DELETE", "services/doomed"))
    await asyncio.sleep(0.2)  # the deletion waits for the wake under way
    arriving = [asyncio.ensure_future(fetch(f"svc/doomed/a{i}", client=client)) for i in range(10)]
    codes = [r.code for r in await asyncio.gather(*held, *arriving)]
    assert (await deletion)[0] == 204
    assert set(codes) <= {404, 503}, codes
    await no_process_left(marker)
    assert (await api("GET", "services/doomed"))[0] == 404

    origin = await create(api, {"name": "origin", "command": web_command()})
    await create(api, {"name": "outside", "url": origin["status"]["endpoint"]})
    flowing = [asyncio.ensure_future(fetch("svc/outside/slow?seconds=1.5", client=client)) for _ in range(5)]
    await asyncio.sleep(0.5)
    assert (await api("DELETE", "services/outside"))[0] == 204
    assert [r.code for r in await asyncio.gather(*flowing)] == [200] * 5
    assert (await fetch("svc/outside/slow?seconds=0")).code == 404


async def test_request_during_scale_down_succeeds(api, fetch):
    await create(api, {"name": "lingering", "command": web_command("--term-delay", "1")})
    code, view = await api("POST", "services/lingering/scale", {"replicas": 0})
    assert code == 202
    await wait_for_state(api, "lingering", {"stopping"}, timeout=5)
    response = await fetch("svc/lingering/after")  # arrives while the old instance is stopping
    assert response.code == 200, response.body
    assert response.headers["X-Svc-Cold-Start"] == "true"


@pytest.fixture(params=["raw", "stream"])
def browser_side(request, monkeypatch):
    """Both ways the browser's end of a tunnel runs: handed to an asyncio protocol (plain TCP, the
    usual case) and kept in tornado's stream (what TLS does); ``taken`` counts the hand-overs."""
    from jupyter_svc.proxy import tunnel

    taken: list[object] = []

    def take(stream):
        sock = tunnel.take_socket.__wrapped__(stream) if request.param == "raw" else None
        taken.append(sock)
        return sock

    take.__wrapped__ = tunnel.take_socket
    monkeypatch.setattr(tunnel, "take_socket", take)
    yield taken
    assert taken, "no WebSocket went through a tunnel"
    if request.param == "raw":
        assert all(s is not None for s in taken), "a plain-TCP browser connection stayed in tornado"


@pytest.mark.parametrize("svc_config", [{"idle_check_interval": 0.1}])
async def test_websocket_keeps_service_up_and_passes_through(api, base, jp_auth_header, svc_config, browser_side):
    view = await create(api, {"name": "chat", "command": web_command(), "scale_to_zero": "1s"})
    url = base.replace("http", "ws", 1) + "svc/chat/ws"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header), subprotocols=["chat.v1", "x"])
    assert ws.selected_subprotocol == "chat.v1"  # chosen by the app, not guessed by the proxy
    await ws.write_message("hello")
    first = await ws.read_message()
    assert isinstance(first, str) and first.startswith("echo hello pid=")
    await asyncio.sleep(2.5)  # silent but open: longer than the idle window
    _, view = await api("GET", "services/chat")
    assert view["status"]["state"] == "ready"
    await ws.write_message(b"\x00\x01\x02", binary=True)
    assert await ws.read_message() == b"\x02\x01\x00"
    await ws.write_message("again")
    assert await ws.read_message() == first.replace("hello", "again")  # same instance, same session
    await ws.write_message("close:4001")
    assert await ws.read_message() is None
    assert ws.close_code == 4001
    await wait_for_state(api, "chat", {"scaled_to_zero"}, timeout=10)  # once closed, idleness counts


async def test_websocket_many_messages_in_flight(api, base, jp_auth_header, browser_side):
    """500 messages sent before any echo is read: both ways' flow control keeps every byte, in order."""
    await create(api, {"name": "burst", "command": web_command()})
    url = base.replace("http", "ws", 1) + "svc/burst/ws"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header), max_message_size=1 << 20)
    sent = [f"{i:04d}" + "m" * 600 for i in range(500)]
    for message in sent:
        await ws.write_message(message)
    got = [await ws.read_message() for _ in sent]
    assert [g.split(" pid=")[0] for g in got] == [f"echo {m}" for m in sent]
    ws.close()


async def test_server_sent_events_stream_unbuffered(api, base, jp_auth_header):
    await create(api, {"name": "sse", "command": web_command()})
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    start = loop.time()

    def on_chunk(chunk: bytes) -> None:
        arrivals.extend(loop.time() - start for _ in range(chunk.count(b"data:")))

    await AsyncHTTPClient().fetch(HTTPRequest(base + "svc/sse/events?count=4&every=0.4", headers=jp_auth_header,
                                              streaming_callback=on_chunk))
    assert len(arrivals) == 4
    assert arrivals[0] < 0.35 and arrivals[-1] > 1.1  # the first event came long before the last


async def test_large_upload_and_download_bounded_memory(api, base, jp_auth_header):
    """200 MiB each way through the proxy; the server (this process) must not hold it in memory."""
    await create(api, {"name": "bulk", "command": web_command()})
    size = 200 * 1024 * 1024
    me = psutil.Process()
    before = me.memory_info().rss
    peak = before

    def sample() -> None:
        nonlocal peak
        peak = max(peak, me.memory_info().rss)

    received = 0

    def on_chunk(chunk: bytes) -> None:
        nonlocal received
        received += len(chunk)
        sample()

    client = AsyncHTTPClient(force_instance=True, max_body_size=2 * size)
    response = await client.fetch(HTTPRequest(
        base + f"svc/bulk/download?size={size}", headers=jp_auth_header, streaming_callback=on_chunk,
        request_timeout=120))
    assert response.code == 200 and received == size

    block = b"y" * (1024 * 1024)

    async def producer(write):
        for _ in range(200):
            await write(block)
            sample()

    response = await client.fetch(HTTPRequest(
        base + "svc/bulk/upload", method="POST", headers={**jp_auth_header, "Content-Length": str(size)},
        body_producer=producer, request_timeout=120))
    assert json.loads(response.body) == {"received": size}
    assert peak - before < 64 * 1024 * 1024, f"RSS grew by {(peak - before) / 2**20:.0f} MiB"


async def test_slow_reader_gets_every_byte_and_pauses_the_service(api, jp_http_port, jp_base_url, jp_auth_header):
    """A browser that reads slowly: the proxy must wait for it (never drop, never deadlock) while
    keeping little in memory. A raw socket reads 256 KiB at a time with pauses, so the proxy's
    writes to it stay pending and overlap, as they do for a real client on a slow link."""
    await create(api, {"name": "trickle", "command": web_command()})
    size = 48 * 1024 * 1024
    reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    writer.write(f"GET {jp_base_url}svc/trickle/download?size={size} HTTP/1.1\r\n"
                 f"Host: 127.0.0.1:{jp_http_port}\r\n{auth}"
                 "Connection: close\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    received = 0
    me, before, peak = psutil.Process(), psutil.Process().memory_info().rss, 0

    async def read_all() -> None:
        nonlocal received, peak
        while chunk := await reader.read(256 * 1024):
            received += len(chunk)
            peak = max(peak, me.memory_info().rss)
            await asyncio.sleep(0.001)

    await asyncio.wait_for(read_all(), 120)
    writer.close()
    assert received == size
    assert peak - before < 64 * 1024 * 1024, f"RSS grew by {(peak - before) / 2**20:.0f} MiB"


async def test_requests_leave_no_reference_cycles_even_when_cut(api, fetch, jp_http_port, jp_base_url,
                                                                jp_auth_header):
    """What a proxied request allocates is freed by reference counting, also when the browser
    leaves mid-stream. Cycles (an exception's traceback holding the frames that hold the
    exchange that holds the exception) once left each cut request's object graph to the cyclic
    collector, whose full passes over a Jupyter server's heap took 100-280 ms (p99 stalls)."""
    await create(api, {"name": "tidy", "command": web_command()})
    assert (await fetch("svc/tidy/download?size=3000000")).code == 200  # warm: pools, imports
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(3):
            assert (await fetch("svc/tidy/download?size=3000000")).code == 200
            reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
            writer.write(f"GET {jp_base_url}svc/tidy/download?size=300000000 HTTP/1.1\r\n"
                         f"Host: 127.0.0.1:{jp_http_port}\r\n{auth}\r\n".encode())
            await reader.readexactly(1024 * 1024)
            writer.transport.abort()  # the browser goes away mid-download
            await asyncio.sleep(0.3)
        gc.collect()
        ours = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("jupyter_svc")})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == [], ours


async def test_activity_document_and_explicit_activity(api, fetch, jp_fetch):
    await create(api, {"name": "busy", "command": echo_command(), "scale_to_zero": "1h"})
    await fetch("svc/busy/")
    response = await jp_fetch("svc", "api", "activity")
    doc = json.loads(response.body)
    assert doc["services"]["count"] == 1 and doc["services"]["by_name"]["busy"]["state"] == "ready"
    assert doc["kernels"]["count"] == 0 and "last_activity" in doc
    code, view = await api("POST", "services/busy/activity")
    assert code == 200
    code, body = await api("POST", "services/ghost/activity")
    assert code == 404


@pytest.mark.parametrize("svc_config", [{"idle_check_interval": 0.1, "activity_exclude_paths": [r"/health$"]}])
async def test_server_idleness_follows_traffic_not_running_services(api, fetch, jp_serverapp, svc_config):
    """Traffic lands in Jupyter's last_activity_times; a running but idle service is not activity."""
    app = jp_serverapp.extension_manager.extension_apps["jupyter_svc"]
    (svc_app,) = app
    await create(api, {"name": "quiet", "command": web_command(), "scale_to_zero": "3s"})
    times = jp_serverapp.web_app.settings["last_activity_times"]
    times.pop("jupyter_svc", None)
    await asyncio.sleep(0.3)
    assert "jupyter_svc" not in times and not svc_app.current_activity()  # running, no traffic
    for _ in range(10):  # a polling endpoint excluded from activity does not keep it up either
        assert (await fetch("svc/quiet/health")).code == 200
    await asyncio.sleep(0.3)
    assert "jupyter_svc" not in times

    download = asyncio.ensure_future(fetch("svc/quiet/events?count=5&every=0.2"))
    await asyncio.sleep(0.3)
    assert svc_app.current_activity()  # a response in flight is activity
    await download
    await asyncio.sleep(0.3)
    assert "jupyter_svc" in times and not svc_app.current_activity()


@pytest.mark.parametrize("svc_config", [{"count_as_server_activity": False}])
async def test_service_traffic_can_leave_the_server_idle(api, fetch, jp_serverapp, svc_config):
    await create(api, {"name": "traffic", "command": echo_command()})
    for _ in range(3):
        assert (await fetch("svc/traffic/")).code == 200
    await asyncio.sleep(1.2)
    assert "jupyter_svc" not in jp_serverapp.web_app.settings["last_activity_times"]


@pytest.mark.parametrize("svc_config", [{"max_held_requests": 3, "wake_timeout": 1.0}])
async def test_hold_is_bounded_by_queue_and_timeout(api, fetch, svc_config):
    await create(api, {"name": "slowpoke", "command": echo_command("--delay", "3"),
                       "desired_state": "scaled_to_zero"})
    client = AsyncHTTPClient(force_instance=True, max_clients=20)
    responses = await asyncio.gather(*(fetch("svc/slowpoke/", client=client) for _ in range(6)))
    codes = sorted(r.code for r in responses)
    assert codes == [503, 503, 503, 504, 504, 504], codes  # 3 held until the timeout, 3 refused at once
    for response in responses:
        assert response.headers["Retry-After"]
        message = json.loads(response.body)["message"]
        assert ("already waiting" in message) if response.code == 503 else ("still starting" in message)
    await wait_for_state(api, "slowpoke", {"ready"})  # the one start goes on and succeeds
    assert (await fetch("svc/slowpoke/")).code == 200


@pytest.mark.parametrize("svc_config", [{"websocket_max_message_size": 1000}])
async def test_websocket_limits_and_scale_down_close(api, base, jp_auth_header, svc_config, browser_side):
    await create(api, {"name": "wsl", "command": web_command()})
    url = base.replace("http", "ws", 1) + "svc/wsl/ws"
    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
    await ws.write_message("x" * 900)
    assert (await ws.read_message()).startswith("echo xxx")
    await ws.write_message("y" * 2000)  # over the limit: the proxy closes with 1009
    assert await ws.read_message() is None
    assert ws.close_code == 1009

    ws = await websocket_connect(HTTPRequest(url, headers=jp_auth_header))
    await ws.write_message("hi")
    await ws.read_message()
    code, view = await api("POST", "services/wsl/scale", {"replicas": 0}, wait=20)
    assert view["status"]["state"] == "scaled_to_zero"
    assert await ws.read_message() is None
    assert ws.close_code == 1001  # told it is going away, not cut


def test_frame_guard_follows_fragmented_frames_across_chunks():
    import struct

    from jupyter_svc.proxy.tunnel import FrameGuard, MessageTooBig

    def frame(payload: bytes, fin: bool, opcode: int) -> bytes:
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
        return head + b"\0\0\0\0" + payload  # a zero mask keeps the payload readable

    guard = FrameGuard(limit=300)
    stream = frame(b"a" * 200, False, 1) + frame(b"", True, 9) + frame(b"b" * 50, True, 0) + frame(b"c" * 290, True, 2)
    for i in range(0, len(stream), 7):  # chunk boundaries anywhere, even inside headers
        guard.feed(stream[i:i + 7])
    with pytest.raises(MessageTooBig):
        guard.feed(frame(b"d" * 200, False, 1) + frame(b"e" * 200, True, 0))


def test_frame_guard_agrees_with_the_frames_however_the_stream_is_cut():
    """Random frames (7-bit, 16-bit and 64-bit lengths, masked or not, fragmented messages,
    control frames between fragments) in random cuts, from single bytes to many frames per read:
    the guard refuses exactly when a message or a control frame goes over the limit, in the read
    that completes the offending frame's header."""
    import random

    from jupyter_svc.proxy.tunnel import FrameGuard, MessageTooBig

    def frame(rng: random.Random, opcode: int, fin: bool, n: int) -> tuple[bytes, int]:
        masked = rng.random() < 0.7
        head = bytes([(0x80 if fin else 0) | opcode])
        mask_bit = 0x80 if masked else 0
        if n < 126:
            head += bytes([mask_bit | n])
        elif n < 65536:
            head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
        else:
            head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
        head += rng.randbytes(4) if masked else b""
        return head + rng.randbytes(n), len(head)

    limit = 70000
    refusals = 0
    for seed in range(80):
        rng = random.Random(seed)
        stream, header_end = b"", None  # where the first offending frame's header ends
        message = 0
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.2:
                n = rng.choice([0, 5, 125, limit, limit + 1]) if rng.random() < 0.3 else rng.randint(0, 125)
                piece, head = frame(rng, rng.choice([8, 9, 10]), True, n)
                over = n > limit
            else:
                n = rng.choice([0, 1, 125, 126, 127, 65535, 65536, rng.randint(0, 40000)])
                fin = rng.random() < 0.6
                piece, head = frame(rng, rng.choice([0, 1, 2]), fin, n)
                message += n
                over = message > limit
                if fin:
                    message = 0
            if over and header_end is None:
                header_end = len(stream) + head
            stream += piece
        guard, pos, refused = FrameGuard(limit), 0, None
        while pos < len(stream):
            step = rng.choice([1, 2, 3, 7, 13, 64, 1000, 70000, len(stream)])
            try:
                guard.feed(stream[pos:pos + step])
            except MessageTooBig:
                refused = (pos, pos + step)
                break
            pos += step
        if header_end is None:
            assert refused is None, seed
        else:
            refusals += 1
            assert refused is not None and refused[0] < header_end <= refused[1], (seed, refused, header_end)
    assert refusals >= 10  # the cases cover refusals, not only clean streams
