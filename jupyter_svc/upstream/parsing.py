"""HTTP/1.1 responses as llhttp reads them (httptools: the parser of uvicorn; llhttp is Node's).

The pool's connections, the WebSocket tunnel and the readiness probe feed it what they read. It
refuses what a proxy must not pass on (two Content-Lengths, a non-decimal one, Content-Length
beside Transfer-Encoding, obs-fold lines, chunk sizes like ``0x2``, bare CR or LF) and it decides
where a head and a chunked body end. A reader's callbacks never let an exception out: ``feed``
answers why the bytes are not HTTP, so nothing escapes an asyncio protocol callback.

A reader does not keep its parser (a reader <-> parser cycle would outlive each request and leave
it to the cyclic GC): its owner keeps both and passes the parser to ``feed``.
"""

from __future__ import annotations

import httptools

#: A response head larger than this is refused (nginx's default large_client_header_buffers is 32 KiB).
MAX_HEAD = 64 * 1024

#: llhttp's words for a few faults, said in the terms of the RFC
_HINTS = {
    "Unexpected whitespace after header value": "a header folded onto the next line (obs-fold)",
    "Pause on CONNECT/Upgrade": "101 Switching Protocols without Connection: upgrade and Upgrade headers",
}


class MalformedHTTP(ValueError):
    """Bytes that are not the HTTP/1.x the peer should have sent."""


class _Stop(Exception):
    """Raised in a callback to stop llhttp where its reader wants no more bytes parsed."""


def final_coding_is_chunked(values: list[str]) -> bool:
    """llhttp's reading of Transfer-Encoding: chunked is the body's framing only as the last coding
    of the last header (otherwise the body runs until the service closes)."""
    return bool(values) and values[-1].rsplit(",", 1)[-1].strip(" \t").lower() == "chunked"


def _callback_error(cause: BaseException | None) -> str | None:
    """Why a callback stopped llhttp (None: it asked to stop). Its traceback is dropped: it holds
    the frame of ``feed``, which holds it (a cycle)."""
    if cause is None:
        return "a parser callback failed"
    cause.__traceback__ = None
    if isinstance(cause, _Stop):
        return None
    return str(cause) if isinstance(cause, MalformedHTTP) else f"{type(cause).__name__}: {cause}"


class ResponseHead:
    """llhttp's callbacks for one response head: status, reason, headers (in order, repeats kept)
    and keep-alive. Interim answers (100 Continue, 103 Early Hints) are skipped."""

    def __init__(self) -> None:
        self._parser: httptools.HttpResponseParser | None = None  # only while feeding
        self.start()

    def start(self) -> None:
        """Ready for a response (again, on the same parser)."""
        self.status, self.reason, self.keep_alive = 0, "", False
        self.headers: list[tuple[str, str]] = []
        self.head_done = False  # the final (not 1xx) head is in
        self.upgrade_at: int | None = None  # where a 101's other protocol starts in the bytes last fed
        self._fed = 0  # bytes fed before the final head was in
        self._size = 0  # bytes of header lines

    def new_parser(self) -> httptools.HttpResponseParser:
        return httptools.HttpResponseParser(self)

    def feed(self, parser: httptools.HttpResponseParser, data: bytes | memoryview) -> str | None:
        """Parse ``data``; None, or why the response is not valid HTTP/1.1."""
        self._parser = parser
        error: str | None = None
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self.upgrade_at = int(exc.args[0])
        except httptools.HttpParserCallbackError as exc:  # raised by a callback of this reader
            error = _callback_error(exc.__context__)
        except httptools.HttpParserError as exc:
            error = _HINTS.get(str(exc), str(exc))
        finally:
            self._parser = None
        if error is None and not self.head_done:
            self._fed += len(data)
            if self._fed > MAX_HEAD:
                error = f"response head over {MAX_HEAD // 1024} KiB"
        return error

    # ------------------------------------------------------------------ llhttp's callbacks
    def on_status(self, reason: bytes) -> None:
        self.reason = reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._size += len(name) + len(value)  # a head that came whole in one big read counts too
        if self._size > MAX_HEAD:
            raise MalformedHTTP(f"response head over {MAX_HEAD // 1024} KiB")
        if not self.head_done:  # else a chunked body's trailers: the head is gone already, they are dropped
            self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        parser = self._parser
        assert parser is not None
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.headers, self.reason = [], ""  # an interim answer: the real one follows
            return
        version = parser.get_http_version()
        if version not in ("1.1", "1.0"):
            raise MalformedHTTP(f"HTTP/{version} is not HTTP/1.x")
        if not 100 <= status <= 599:
            raise MalformedHTTP(f"status {status} is not an HTTP status (100-599)")
        self.status, self.keep_alive, self.head_done = status, parser.should_keep_alive(), True


class Response(ResponseHead):
    """A whole response on a pooled connection: body pieces (copies made by httptools), where the
    body ends, and whether bytes followed it. For ``bodyless`` (HEAD) requests the head is all."""

    def __init__(self, bodyless: bool) -> None:
        self.bodyless = bodyless
        super().__init__()

    def start(self, bodyless: bool | None = None) -> None:
        super().start()
        if bodyless is not None:
            self.bodyless = bodyless
        self.pieces: list[bytes] = []
        self.ended = False  # the final answer's message is complete
        self.stopped = False  # parsing stopped at the end of a HEAD answer's head
        self.stray = False  # bytes came after the end of the answer: the connection is not reusable
        self.length: int | None = None  # Content-Length, as llhttp validated it
        self.until_close = False  # no length, not chunked: the body ends when the service closes
        self.body_seen = 0

    @property
    def clean(self) -> bool:
        """Its parser stands at the start of the next response and may be fed again (a new
        parser costs about a microsecond)."""
        return self.ended and not self.stray and self.keep_alive

    def take_body(self) -> list[bytes]:
        pieces, self.pieces = self.pieces, []
        return pieces

    def on_message_begin(self) -> None:
        if self.ended:
            self.stray = True
            raise _Stop

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if not self.head_done:
            return
        if self.status == 101:
            raise MalformedHTTP("101 Switching Protocols, but the request asked for no upgrade")
        if self.bodyless:
            self.stopped = True
            raise _Stop  # llhttp would read the body the headers announce
        length, encodings = None, []
        for name, value in self.headers:
            lower = name.lower()
            if lower == "content-length":
                length = value
            elif lower == "transfer-encoding":
                encodings.append(value)
        if length is not None:  # one, all digits, no Transfer-Encoding: llhttp refused anything else
            self.length = int(length)
        elif self.status not in (204, 304):
            self.until_close = not final_coding_is_chunked(encodings)

    def on_body(self, body: bytes) -> None:
        self.pieces.append(body)
        self.body_seen += len(body)

    def on_message_complete(self) -> None:
        if self.head_done:
            self.ended = True
