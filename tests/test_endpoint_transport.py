"""Per-endpoint transport: an https endpoint verified with its own CA (or its own SSL context),
against a real TLS server on loopback (a certificate made by openssl for 127.0.0.1, its own CA).
(An endpoint's extra headers reaching the app through the proxy: tests/test_backend_contract.py.)"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from test_upstream import fetch

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.upstream.pool import UpstreamError, UpstreamPool


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: no certificate to test TLS with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=60)
    return cert, key


async def test_an_https_endpoint_is_verified_with_its_own_ca(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    seen: list[bytes] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                seen.append(head)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=server_tls)
    port = server.sockets[0].getsockname()[1]
    pool = UpstreamPool(connect_timeout=10)
    try:
        with_ca = Endpoint("127.0.0.1", port, "https", ca_file=str(cert))
        assert await fetch(pool, with_ca) == (200, b"ok")
        assert seen[-1].startswith(b"GET / HTTP/1.1")

        own = ssl.create_default_context(cafile=str(cert))
        with_context = Endpoint("127.0.0.1", port, "https", ssl_context=own)
        assert await fetch(pool, with_context) == (200, b"ok")
        assert with_ca.transport != with_context.transport  # never one's connection for the other

        system_only = Endpoint("127.0.0.1", port, "https")  # the system's CAs do not know this one
        with pytest.raises(UpstreamError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await fetch(pool, system_only)
    finally:
        await pool.close()
        server.close()
        await server.wait_closed()


def test_an_endpoint_names_its_transport_in_its_base() -> None:
    assert Endpoint("127.0.0.1", 8080).base == "http://127.0.0.1:8080"
    assert Endpoint("::1", 8080, "https").base == "https://[::1]:8080"
    assert Endpoint("localhost", 0, unix_socket="/run/a b.sock", path="/x").base == "http+unix://%2Frun%2Fa%20b.sock/x"
    assert Endpoint("localhost", 0, unix_socket="/run/a.sock").authority == "localhost"
