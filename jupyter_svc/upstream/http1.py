"""HTTP/1.1 wire format, the little the proxy's client needs: a response head, a chunked body.

Pure functions and a small state machine, testable on bytes alone (tests/test_upstream.py).
"""

from __future__ import annotations

#: A response head larger than this is refused (nginx's default large_client_header_buffers is 32 KiB).
MAX_HEAD = 64 * 1024


class MalformedHTTP(ValueError):
    """Bytes that are not the HTTP/1.x the peer should have sent."""


def parse_response_head(head: bytes) -> tuple[str, int, str, list[tuple[str, str]]]:
    """Version, status, reason and headers (in order, repeats kept) of a head without its CRLFCRLF."""
    lines = head.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise MalformedHTTP(f"not an HTTP response: {lines[0][:60]!r}")
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]) if k.strip()]
    return version, int(code), reason, headers


class ChunkedDecoder:
    """Transfer-Encoding: chunked -> data; returns (data pieces, finished)."""

    def __init__(self) -> None:
        self._line = b""
        self._left = 0  # data bytes left in the current chunk
        self._state = "size"  # size | data | crlf | trailer

    def feed(self, data: bytes) -> tuple[list[bytes], bool, bytes]:
        """Pieces of payload, whether the body ended, and bytes past its end."""
        out: list[bytes] = []
        pos, end = 0, len(data)
        while pos < end:
            if self._state == "data":
                take = min(self._left, end - pos)
                out.append(data[pos:pos + take])
                self._left -= take
                pos += take
                if not self._left:
                    self._state = "crlf"
                continue
            eol = data.find(b"\n", pos)
            if eol < 0:
                self._line += data[pos:]
                if len(self._line) > MAX_HEAD:
                    raise MalformedHTTP("chunked body: line too long")
                break
            line, self._line, pos = (self._line + data[pos:eol]).rstrip(b"\r"), b"", eol + 1
            if self._state == "size":
                try:
                    self._left = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise MalformedHTTP(f"chunked body: bad chunk size {line[:40]!r}") from None
                self._state = "data" if self._left else "trailer"
            elif self._state == "crlf":
                if line:
                    raise MalformedHTTP("chunked body: missing CRLF after a chunk")
                self._state = "size"
            elif not line:  # trailer section ends with an empty line
                return out, True, data[pos:]
        return out, False, b""


def framing_headers(headers: list[tuple[str, str]]) -> tuple[str, str, str | None]:
    """Connection and Transfer-Encoding (all of their values, lower case) and the first
    Content-Length, in one pass over the head."""
    connection, encoding, length = "", "", None
    for key, value in headers:
        lower = key.lower()
        if lower == "connection":
            connection += "," + value.lower()
        elif lower == "transfer-encoding":
            encoding += "," + value.lower()
        elif lower == "content-length" and length is None:
            length = value
    return connection, encoding, length
