"""Issue 14, part 1: nothing hangs the proxy. A service URL that is the server itself is refused,
a loop through another hop is a 508, every wait for an upstream connection is bounded (503 with
Retry-After) and one busy service cannot starve the others, a failed service answers 503 at once
instead of starting a process per request. All through a real server and real apps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path

import pytest
from conftest import wait_for_state, web_command
from tornado.httpclient import AsyncHTTPClient, HTTPRequest


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


async def get(base: str, path: str, client=None, **kwargs):
    """An unauthenticated request, as the attacks in the issue were."""
    kwargs.setdefault("request_timeout", 30)
    return await (client or AsyncHTTPClient()).fetch(HTTPRequest(base + path, **kwargs), raise_error=False)


async def create(api, spec, wait=20):
    code, view = await api("POST", "services", spec, wait=wait)
    assert code == 201, view
    return view


async def test_a_url_that_is_the_server_itself_is_refused(api, jp_http_port):
    for url in (f"http://127.0.0.1:{jp_http_port}", f"http://localhost:{jp_http_port}/x",
                f"http://LOCALHOST:{jp_http_port}/", f"http://0.0.0.0:{jp_http_port}"):
        code, body = await api("POST", "services", {"name": "loop", "public": True, "rewrite_path": False, "url": url})
        assert code == 422, (url, body)
        assert [e["field"] for e in body["errors"]] == ["url"]
        assert "Jupyter server itself" in body["errors"][0]["message"]
    code, body = await api("POST", "apply", {"manifest": [{"name": "loop", "url": f"http://localhost:{jp_http_port}"}]})
    assert code == 422 and body["errors"][0]["field"].endswith("services[0].url"), body
    code, listing = await api("GET", "services")
    assert listing["services"] == []
    code, _ = await api("POST", "services", {"name": "elsewhere", "url": f"http://127.0.0.1:{jp_http_port + 1}"})
    assert code == 201  # another port of this host is fine


@contextlib.asynccontextmanager
async def relay_to(port: int):
    """A TCP relay to the Jupyter server: "another proxy in between", which no URL check can see through."""
    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def on_client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_a_loop_through_another_hop_is_a_508_and_others_keep_answering(api, base, jp_http_port):
    await create(api, {"name": "web", "command": web_command(), "public": True})
    async with relay_to(jp_http_port) as relay_port:
        await create(api, {"name": "loop", "public": True, "rewrite_path": False,
                           "url": f"http://127.0.0.1:{relay_port}"})
        response = await get(base, "svc/loop/x", request_timeout=20)
        assert response.code == 508, (response.code, response.body)
        assert b"proxy loop" in response.body
        assert (await get(base, "svc/web/after")).code == 200
    # the mark a request carries: passed on with this server's own added, refused when it comes back
    seen = json.loads((await get(base, "svc/web/a", headers={"X-Jupyter-Svc-Hop": "elsewhere"})).body)["headers"]
    hops = [h.strip() for h in seen["X-Jupyter-Svc-Hop"].split(",")]
    assert hops[0] == "elsewhere" and len(hops) == 2
    response = await get(base, "svc/web/b", headers={"X-Jupyter-Svc-Hop": f"elsewhere, {hops[1]}"})
    assert response.code == 508


@pytest.mark.parametrize("svc_config", [{"upstream_connections": 6, "upstream_connections_per_service": 4,
                                         "upstream_wait_timeout": 0.5}])
async def test_a_busy_service_gets_503_while_the_others_answer(api, base, svc_config):
    for name in ("busy", "calm", "third"):
        await create(api, {"name": name, "command": web_command(), "public": True})
    client = AsyncHTTPClient(force_instance=True, max_clients=40)
    streams = [asyncio.ensure_future(get(base, "svc/busy/events?count=1&every=8", client=client))
               for _ in range(12)]  # three times its limit, held open for 8 s each
    await asyncio.sleep(1.5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    response = await get(base, "svc/busy/more")
    assert response.code == 503 and response.headers["Retry-After"], response.body
    assert "upstream_connections_per_service" in json.loads(response.body)["message"]
    assert loop.time() - started < 3  # bounded by upstream_wait_timeout, not by the streams
    for _ in range(5):
        assert (await get(base, "svc/calm/x")).code == 200
    calm = [asyncio.ensure_future(get(base, "svc/calm/slow?seconds=3", client=client)) for _ in range(2)]
    await asyncio.sleep(0.5)  # the pool's 6 connections are now all in use: 4 + 2
    response = await get(base, "svc/third/x")
    assert response.code == 503 and "upstream_connections)" in json.loads(response.body)["message"]
    assert [r.code for r in await asyncio.gather(*calm)] == [200, 200]
    codes = sorted(r.code for r in await asyncio.gather(*streams))
    assert codes.count(200) >= 4 and set(codes) <= {200, 503}, codes  # the excess got 503, none hung
    assert (await get(base, "svc/busy/again")).code == 200  # and it answers again once they closed


FAILING = "import sys, time; open(sys.argv[1], 'a').write('start\\n'); print('no config, giving up', flush=True); " \
          "time.sleep(0.3); sys.exit(3)"


@pytest.mark.parametrize("svc_config", [{"restart_backoff_initial": 1.0, "restart_backoff_max": 30.0,
                                         "max_restarts": 1}])
async def test_a_failed_service_answers_at_once_and_wakes_with_backoff(api, base, tmp_path: Path, svc_config):
    starts = tmp_path / "starts"
    await create(api, {"name": "crashy", "public": True, "command": [sys.executable, "-c", FAILING, str(starts)],
                       "desired_state": "scaled_to_zero", "readiness": {"timeout": "30s"}})

    def count() -> int:
        return len(starts.read_text().splitlines()) if starts.exists() else 0

    responses = await asyncio.gather(*(get(base, "svc/crashy/") for _ in range(5)))
    assert [r.code for r in responses] == [503] * 5 and count() == 1  # one start for all five
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(20):
        response = await get(base, "svc/crashy/")
        assert response.code == 503 and int(response.headers["Retry-After"]) >= 1
        assert b"no config, giving up" in response.body  # its failure, with the log lines
    assert loop.time() - started < 1.0 and count() == 1  # at once, and no process per request
    await asyncio.sleep(1.2)  # the backoff after one failure: a request may start it once more
    assert (await get(base, "svc/crashy/")).code == 503 and count() == 2
    await asyncio.sleep(2.5)  # past max_restarts in a row: requests no longer start it at all
    response = await get(base, "svc/crashy/")
    assert response.code == 503 and b"restart or update it" in response.body and count() == 2
    code, _ = await api("POST", "services/crashy/wake")  # a person may
    assert code == 202
    deadline = loop.time() + 20
    while count() < 3 and loop.time() < deadline:
        await asyncio.sleep(0.05)
    assert count() == 3
    await wait_for_state(api, "crashy", {"failed"}, timeout=20)
