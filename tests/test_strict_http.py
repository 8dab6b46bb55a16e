"""What llhttp (jupyter_svc/upstream/parsing.py) makes of a service's answers: on bytes alone, then
through the pool against scripted servers on 127.0.0.1 that send exactly the malformed bytes a
proxy must refuse. Nothing is mocked."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

import pytest
from test_upstream import fetch, read_request, serving

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.services.readiness import probe_once
from jupyter_svc.upstream.parsing import MAX_HEAD, Response, ResponseHead, final_coding_is_chunked
from jupyter_svc.upstream.pool import UpstreamError, UpstreamPool

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

#: answers a proxy must refuse, and the words its error must contain
MALFORMED = {
    "two lengths": (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
                    "Duplicate Content-Length"),
    "superscript length": (b"HTTP/1.1 200 OK\r\nContent-Length: \xb2\r\n\r\nab",  # latin-1 "²": isdigit()
                           "Invalid character in Content-Length"),
    "obs-fold": (b"HTTP/1.1 200 OK\r\nX-Note: one\r\n two\r\nContent-Length: 2\r\n\r\nok", "obs-fold"),
    "chunk size 0x2": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nab\r\n0\r\n\r\n",
                       "Invalid character in chunk size"),
    "chunk size 1_0": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n",
                       "Invalid character in chunk size"),
    "gzip with length": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab",
                         "Content-Length can't be present with Transfer-Encoding"),
    "head too large": (b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * MAX_HEAD + b"\r\nContent-Length: 2\r\n\r\nok",
                       "response head over 64 KiB"),
    "not HTTP/1.x": (b"HTTP/0.9 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/0.9 is not HTTP/1.x"),
    "status out of range": (b"HTTP/1.1 099 Odd\r\nContent-Length: 2\r\n\r\nok", "status 99 is not"),
}


def parse(answer: bytes, split: int | None = None, bodyless: bool = False) -> tuple[Response, str | None, bytes]:
    """Feed ``answer`` (in two parts if ``split``); the reader, the first error and the body."""
    response = Response(bodyless)
    parser = response.new_parser()
    body, error = b"", None
    for part in (answer,) if split is None else (answer[:split], answer[split:]):
        error = error or response.feed(parser, memoryview(bytearray(part)))
        body += b"".join(response.take_body())
    return response, error, body


def test_chunked_body_at_any_split_ends_where_llhttp_says() -> None:
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n")
    for split in range(1, len(answer)):
        response, error, body = parse(answer, split)
        assert error is None and response.ended and not response.stray, split
        assert body == b"Wikipedia in\r\n\r\nchunks.", split
        assert response.clean, split  # its parser can read the next answer
        assert response.headers == [("Transfer-Encoding", "chunked")], split  # trailers are not headers
    response, error, body = parse(answer + b"NEXT")
    assert response.ended and response.stray and error is None  # bytes after the end: noticed, not an error


def test_head_keeps_order_and_repeats_and_skips_interim_answers() -> None:
    answer = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
              b"HTTP/1.1 302 Found\r\nSet-Cookie: a=1\r\nLocation: /x\r\nset-cookie: b=2\r\nX-Empty:\r\n"
              b"Content-Length: 0\r\n\r\n")
    response, error, _ = parse(answer)
    assert error is None and response.head_done and response.ended
    assert (response.status, response.reason) == (302, "Found")
    assert response.headers == [("Set-Cookie", "a=1"), ("Location", "/x"), ("set-cookie", "b=2"), ("X-Empty", ""),
                                ("Content-Length", "0")]
    response, _, _ = parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
    assert response.keep_alive
    response, _, _ = parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    assert not response.keep_alive


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_answers_are_refused_with_the_reason(case: str) -> None:
    answer, reason = MALFORMED[case]
    response, error, _ = parse(answer)
    assert error is not None and reason in error, error
    assert not response.clean
    for split in (1, len(answer) // 2, len(answer) - 1):  # however the bytes come
        assert reason in str(parse(answer, split)[1]), split


def test_not_http_is_refused() -> None:
    for answer in (b"HTTP/2 200 OK\r\n\r\n", b"ICY 200 OK\r\n\r\n", b"HTTP/1.1 20 OK\r\n\r\n", b"SSH-2.0-x\r\n\r\n"):
        assert parse(answer)[1] is not None, answer
    endless = ResponseHead()  # a head that never ends is refused once it passes the limit
    parser = endless.new_parser()
    errors = [endless.feed(parser, b"HTTP/1.1 200 OK\r\n")]
    errors += [endless.feed(parser, b"X-A: " + b"a" * 1000) for _ in range(70)]
    assert errors[:60] == [None] * 60 and errors[-1] == "response head over 64 KiB"


def test_framing_as_llhttp_reads_it() -> None:
    """A length, chunked, until close, none for HEAD/204/304; our reading of Transfer-Encoding
    (used when the service closes right after a head) agrees with llhttp's."""
    response, _, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel")
    assert (response.length, response.until_close, response.ended, body) == (5, False, False, b"hel")
    response, _, body = parse(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")
    assert (response.length, response.until_close, response.ended, body) == (None, True, False, b"until the end")
    response, _, body = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n", bodyless=True)
    assert response.stopped and response.head_done and body == b""
    for status in (204, 304):
        response, _, _ = parse(b"HTTP/1.1 %d X\r\nContent-Length: 9\r\n\r\n" % status)
        assert response.ended and response.clean
    for encodings in (["chunked"], ["gzip, chunked"], ["gzip ,Chunked  "], ["chunked", "gzip"], ["gzip"],
                      ["chunked, gzip"], ["chunkedx"], ["gzip", "chunked"]):
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"Transfer-Encoding: %s\r\n" % e.encode() for e in encodings)
        response, error, body = parse(head + b"\r\n2\r\nab\r\n0\r\n\r\n")
        chunked_by_llhttp = response.ended and body == b"ab"
        assert error is None and chunked_by_llhttp == final_coding_is_chunked(encodings), encodings
        assert response.until_close == (not chunked_by_llhttp), encodings


# ---------------------------------------------------------------------- through the pool
@contextlib.asynccontextmanager
async def scripted(answers: list[bytes]) -> AsyncIterator[tuple[Endpoint, list[int], list[int]]]:
    """A keep-alive server that sends ``answers`` in order, one per request, whatever connection
    asks; yields its endpoint, the connection number of each request, and the connections the
    client closed (EOF seen)."""
    served: list[int] = []
    closed: list[int] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = len(accepted)
        try:
            while answers:
                await read_request(reader)
                served.append(number)
                writer.write(answers.pop(0))
            await reader.read()
        finally:
            closed.append(number)

    async with serving(handler) as (endpoint, accepted):
        yield endpoint, served, closed


@pytest.mark.parametrize("case", sorted(MALFORMED))
async def test_malformed_answer_is_an_error_and_its_connection_is_dropped(case: str, caplog) -> None:
    """A good answer, then the malformed one on the same pooled connection, then a good one: the
    malformed answer raises (never retried: it was an answer), its connection is closed, the next
    request opens a new one, and asyncio logs no "Fatal error" (no exception left a callback)."""
    answer, reason = MALFORMED[case]
    pool = UpstreamPool()
    async with scripted([OK, answer, OK]) as (endpoint, served, closed):
        assert await fetch(pool, endpoint) == (200, b"ok")
        with pytest.raises(UpstreamError, match="malformed HTTP response") as raised:
            await fetch(pool, endpoint)
        assert reason in str(raised.value)
        assert await fetch(pool, endpoint) == (200, b"ok")
        await asyncio.sleep(0.05)
        assert served == [1, 1, 2] and closed == [1]  # dropped at once; the third came on a new one
    await pool.close()
    assert not [r for r in caplog.records if "Fatal error" in r.getMessage()], caplog.text


async def test_bytes_after_an_answer_make_its_connection_unreusable() -> None:
    """A 204 or a HEAD answer followed by a body, a length exceeded: the answer is passed on, the
    connection is not used again."""
    pool = UpstreamPool()
    stray = [b"HTTP/1.1 204 No Content\r\n\r\nsurprise", OK,
             b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n\r\n", OK,
             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nbody after a HEAD", OK]
    async with scripted(stray) as (endpoint, served, closed):
        assert await fetch(pool, endpoint) == (204, b"")
        assert await fetch(pool, endpoint) == (200, b"ok")
        assert await fetch(pool, endpoint) == (200, b"hello")
        assert await fetch(pool, endpoint) == (200, b"ok")
        assert await fetch(pool, endpoint, "HEAD") == (200, b"")
        assert await fetch(pool, endpoint) == (200, b"ok")
        assert served == [1, 2, 2, 3, 3, 4]
    await pool.close()


async def test_borrowed_bodies_are_lent_slices_of_the_read_buffer_chunked_ones_are_parsed() -> None:
    """With ``borrow=True``: a Content-Length body, part of which came with the head, reaches the
    sink as views of the connection's read buffer (no copy), counted to its end; the connection is
    reused with a fresh parser. A chunked body goes through llhttp (bytes)."""
    body = bytes(range(256)) * 2000  # 512000 bytes: several reads

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body[:1000]))
        await asyncio.sleep(0.05)  # the rest in reads of its own
        writer.write(body[1000:])
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        await asyncio.sleep(0.05)
        writer.write(b"4\r\ndefg\r\n0\r\n\r\n")
        await read_request(reader)
        writer.write(OK)
        await reader.read()

    pool = UpstreamPool()
    async with serving(handler) as (endpoint, accepted):
        kinds: set[type] = set()

        def sink(chunk: bytes | memoryview) -> None:
            kinds.add(type(chunk))
            got.append(bytes(chunk))

        for expected, lent in ((body, memoryview), (b"abcdefg", bytes)):
            got: list[bytes] = []
            kinds.clear()
            exchange = await pool.send(endpoint, "GET", "/", {"Host": "x"})
            got.append(exchange.take_early())
            await exchange.stream(sink, borrow=True)  # type: ignore[arg-type]
            assert b"".join(got) == expected and kinds == {lent}
            pool.release(exchange)
        assert await fetch(pool, endpoint) == (200, b"ok")
        assert len(accepted) == 1
    await pool.close()


async def test_failed_answers_leave_no_reference_cycles() -> None:
    """An answer refused by the parser frees what it allocated by reference counting."""
    pool = UpstreamPool()
    async with scripted([OK] + [answer for answer, _ in MALFORMED.values()]) as (endpoint, _, _):
        assert await fetch(pool, endpoint) == (200, b"ok")
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in MALFORMED:
                with pytest.raises(UpstreamError):
                    await fetch(pool, endpoint)
            await asyncio.sleep(0.05)
            gc.collect()
            ours = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("jupyter_svc")})
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
    await pool.close()
    assert ours == [], ours


async def test_readiness_probe_reads_the_head_with_the_same_parser() -> None:
    """The probe (through the pool): a head in pieces gives its status; an answer llhttp refuses is no answer."""

    async def slow_head(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        for piece in (b"HTTP/1.1 2", b"04 No Content\r\nX-A: 1\r", b"\n\r\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)

    async def folded(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(MALFORMED["obs-fold"][0])
        await writer.drain()

    pool = UpstreamPool()
    try:
        async with serving(slow_head) as (endpoint, _):
            assert await probe_once(endpoint, "/", pool) == 204
        async with serving(folded) as (endpoint, _):
            assert await probe_once(endpoint, "/", pool) is None
    finally:
        await pool.close()
