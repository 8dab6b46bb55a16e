"""What each kind of string in a spec can safely hold, by where it ends up.

Every string is stored as JSON and sent back in UTF-8 (the list and the events stream), so none
may hold a lone surrogate; and none may hold a NUL byte, which no argv, environment variable or
file path can carry (``Popen`` refuses it, and the service would never start). Strings that reach
an HTTP request line or a header (the readiness path, an external URL) hold visible ASCII only;
one-line strings (labels, images, names of Kubernetes objects) hold no control characters.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, WithJsonSchema

from .patterns import whole

_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NOT_VISIBLE_ASCII = re.compile(r"[^\x21-\x7e]")
#: A URL's host: a DNS name or IPv4 address, or an IPv6 address in brackets (no user info).
#: Labels are separated by dots, never optional ones (``(label\.?)+`` backtracked exponentially:
#: 30 characters and a wrong last one held the event loop for minutes).
_LABEL = r"[A-Za-z0-9](?:[-A-Za-z0-9_]*[A-Za-z0-9])?"
_HOST_BODY = rf"{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9A-Fa-f:.]+\]"
_HOST = re.compile(_HOST_BODY)


def check_text(value: str) -> str:
    """Any string of a spec: valid Unicode (it goes out as UTF-8) and no NUL byte."""
    surrogate = _SURROGATE.search(value)
    if surrogate:
        raise ValueError(f"holds a lone surrogate (U+{ord(surrogate.group()):04X}) at position "
                         f"{surrogate.start()}: not valid Unicode text")
    if "\x00" in value:
        raise ValueError(f"holds a NUL byte at position {value.index(chr(0))}: no argv, environment "
                         "variable or file path can carry one")
    return value


def check_line(value: str) -> str:
    """A one-line string: no control characters (no newline, tab, escape, ...)."""
    check_text(value)
    control = _CONTROL.search(value)
    if control:
        raise ValueError(f"holds a control character ({control.group()!r}) at position {control.start()}")
    return value


def check_visible_ascii(value: str, what: str) -> str:
    """A string that goes into an HTTP request line or header as is."""
    check_text(value)
    bad = _NOT_VISIBLE_ASCII.search(value)
    if bad:
        raise ValueError(f"holds {bad.group()!r} at position {bad.start()}: {what} takes visible ASCII "
                         "characters only (percent-encode spaces and other characters)")
    return value


def check_url_path(value: str) -> str:
    return check_visible_ascii(value, "a URL path")


def check_http_url(value: str) -> str:
    """An external service's URL: http(s), a host, an optional port and path; nothing else."""
    check_visible_ascii(value, "a URL")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not hold credentials (user:password@): they would not be sent")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not _HOST.fullmatch(host):
        raise ValueError(f"{host!r} is not a host name or IP address")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number from 0 to 65535") from None
    if port == 0:
        raise ValueError("port 0 cannot be connected to")
    if parts.fragment:
        raise ValueError("must not hold a #fragment: browsers never send one")
    return value


#: The rules above as JSON Schema patterns, alike to Python's ``re``, ECMA-262 (ajv, in the panel)
#: and Rust's regex (schemathesis's validator). Lone surrogates stay out of them: Rust's regex
#: refuses a surrogate in a pattern, and a JSON text holding one is not Unicode text anyway.
TEXT_PATTERN = whole(r"[^\x00]*")
LINE_PATTERN = whole(r"[^\x00-\x1f\x7f]*")
URL_PATH_PATTERN = whole(r"[\x21-\x7e]*")
_PORT = r"(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
#: http(s), a host (a name, IPv4 or [IPv6]), maybe a port (not 0), then a path and query, no fragment.
HTTP_URL_PATTERN = whole(rf"[hH][tT][tT][pP][sS]?://(?:{_HOST_BODY})"
                         rf"(?::(?!0+(?![0-9])){_PORT}?)?(?:[/?][\x21\x22\x24-\x7e]*)?")

#: Any string of a spec (descriptions, annotations, argv items, env values, paths).
Text = Annotated[str, AfterValidator(check_text), WithJsonSchema({"type": "string", "pattern": TEXT_PATTERN})]


def key_schema(pattern: str, max_length: int | None = None) -> dict[str, Any]:
    """The JSON Schema of a map's key type: the pattern inside allOf, so that pydantic writes
    ``propertyNames`` beside ``additionalProperties`` (not ``patternProperties``, which lets a key
    that does not match through unchecked)."""
    return {"type": "string", "allOf": [{"pattern": pattern}], **({"maxLength": max_length} if max_length else {})}


#: A map's key that is Text.
TextKey = Annotated[str, AfterValidator(check_text), WithJsonSchema(key_schema(TEXT_PATTERN))]
#: One line (labels, images, names of Kubernetes objects).
Line = Annotated[str, AfterValidator(check_line), WithJsonSchema({"type": "string", "pattern": LINE_PATTERN})]
#: A path that goes into a request line as is (the readiness probe's).
UrlPath = Annotated[str, AfterValidator(check_url_path),
                    WithJsonSchema({"type": "string", "pattern": URL_PATH_PATTERN})]
#: An external service's URL.
HttpUrl = Annotated[str, AfterValidator(check_http_url),
                    WithJsonSchema({"type": "string", "pattern": HTTP_URL_PATTERN})]
