"""Large bodies moved socket to socket by splice(2) (upstream/splice.py), against a real app and
a real server: the bytes arrive whole and in order, the service's connection is kept alive, and
a break on either side mid-body cuts the other without a hang, a leaked descriptor or a cycle."""

from __future__ import annotations

import asyncio

import psutil
import pytest
from conftest import web_command
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.simple_httpclient import HTTPStreamClosedError

from jupyter_svc.upstream import splice

pytestmark = pytest.mark.skipif(not splice.available(), reason="os.splice is Linux-only")


def offsets(size: int) -> bytes:
    return b"".join(i.to_bytes(8, "big") for i in range(0, size, 8))[:size]


@pytest.fixture
def proxy(jp_serverapp):
    return jp_serverapp.web_app.settings["jupyter_svc_proxy"]


async def create_bulk(api) -> None:
    code, view = await api("POST", "services", {"name": "bulk", "command": web_command()}, wait=20)
    assert code == 201, view


async def get(base: str, headers: dict[str, str], path: str) -> tuple[int, bytes]:
    """(status, body); (599, what came) when the connection was cut before the body's end."""
    client = AsyncHTTPClient(force_instance=True, max_body_size=64 * 1024 * 1024)
    got: list[bytes] = []
    try:
        response = await client.fetch(HTTPRequest(base + path, headers=headers, request_timeout=60,
                                                  streaming_callback=got.append), raise_error=False)
        return response.code, b"".join(got)
    except HTTPStreamClosedError:
        return 599, b"".join(got)
    finally:
        client.close()


@pytest.fixture
def base(jp_http_port, jp_base_url):
    return f"http://127.0.0.1:{jp_http_port}{jp_base_url}"


async def test_large_body_arrives_whole_in_order_on_a_kept_connection(api, proxy, base, jp_auth_header):
    await create_bulk(api)
    pipes, size = proxy.upstream.pipes, 8 * 1024 * 1024 + 13
    before = pipes.bodies, pipes.bytes
    for _ in range(3):
        code, body = await get(base, jp_auth_header, f"svc/bulk/download?size={size}&pattern=offsets")
        assert code == 200 and len(body) == size and body == offsets(size)
    assert pipes.bodies == before[0] + 3
    assert size * 3 - pipes.bytes + before[1] < 3 * 64 * 1024  # all but what came with each head
    assert len(proxy.upstream._all) == 1  # one connection to the service served all three


async def test_small_and_head_answers_are_relayed_as_before(api, proxy, base, jp_auth_header):
    await create_bulk(api)
    pipes = proxy.upstream.pipes
    before = pipes.bodies
    code, body = await get(base, jp_auth_header, f"svc/bulk/download?size={splice.SPLICE_MIN // 2}")
    assert code == 200 and body == b"x" * (splice.SPLICE_MIN // 2)
    client = AsyncHTTPClient(force_instance=True)
    response = await client.fetch(HTTPRequest(base + "svc/bulk/download?size=10000000", method="HEAD",
                                              headers=jp_auth_header), raise_error=False)
    client.close()
    assert response.code == 200 and response.headers["Content-Length"] == "10000000" and not response.body
    assert pipes.bodies == before


async def test_service_breaking_off_mid_body_cuts_the_browser(api, proxy, base, jp_auth_header):
    """Fewer bytes than the Content-Length promised: the browser's connection is cut (it cannot
    mistake the body for whole), the service's connection is dropped, and the next request works."""
    await create_bulk(api)
    me = psutil.Process()
    await get(base, jp_auth_header, "svc/bulk/download?size=4000000")  # warm: pipes, buffers
    fds = me.num_fds()
    code, body = await asyncio.wait_for(
        get(base, jp_auth_header, "svc/bulk/download?size=4000000&cut=1048576"), 30)
    assert code == 599 and 0 < len(body) < 4000000, (code, len(body))
    code, body = await get(base, jp_auth_header, "svc/bulk/download?size=4000000&pattern=offsets")
    assert code == 200 and body == offsets(4000000)
    await asyncio.sleep(0.2)
    assert me.num_fds() <= fds + 1  # no duplicate descriptor or pipe left behind


async def test_browser_leaving_mid_body_drops_the_service_connection(api, proxy, base, jp_http_port,
                                                                    jp_base_url, jp_auth_header):
    await create_bulk(api)
    me = psutil.Process()
    await get(base, jp_auth_header, "svc/bulk/download?size=4000000")
    fds = me.num_fds()
    auth = "".join(f"{k}: {v}\r\n" for k, v in jp_auth_header.items())
    for _ in range(3):
        reader, writer = await asyncio.open_connection("127.0.0.1", jp_http_port)
        writer.write(f"GET {jp_base_url}svc/bulk/download?size=300000000 HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{jp_http_port}\r\n{auth}\r\n".encode())
        await reader.readexactly(2 * 1024 * 1024)
        writer.transport.abort()
    for _ in range(100):  # each spliced download sees the reset and gives its connection up
        if len(proxy.upstream._all) <= 1:
            break
        await asyncio.sleep(0.05)
    assert len(proxy.upstream._all) <= 1
    code, body = await get(base, jp_auth_header, "svc/bulk/download?size=1000000&pattern=offsets")
    assert code == 200 and body == offsets(1000000)
    await asyncio.sleep(0.2)
    assert me.num_fds() <= fds + 1
