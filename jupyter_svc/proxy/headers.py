"""Which headers cross the proxy, and how paths in them are rewritten.

Pure functions of a request or response, so the rules are testable without a network.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from jupyter_svc.backends.base import Endpoint

#: Hop-by-hop headers (RFC 9110 7.6.1) never cross a proxy.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})
#: The proxy answers with its own Date and Server, as nginx does.
_PROXY_OWN = frozenset({"date", "server"})
#: Jupyter's own cookies: a service has no business seeing the user's Jupyter session.
_JUPYTER_COOKIE = re.compile(r"^(_xsrf|username-[-\w]+)$")


def _strip_jupyter_cookies(value: str) -> str:
    kept = [part for part in value.split(";") if not _JUPYTER_COOKIE.match(part.strip().split("=", 1)[0])]
    return ";".join(kept).strip()


def upstream_headers(request: Any, endpoint: Endpoint, prefix: str) -> dict[str, str]:
    """Headers to send to the service for a tornado ``request`` arriving under ``prefix``."""
    connection_listed = {h.strip().lower() for h in request.headers.get("Connection", "").split(",")}
    out: dict[str, str] = {}
    for key, value in request.headers.get_all():
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in connection_listed or lower == "host":
            continue
        if lower == "authorization" and value.lower().startswith("token "):
            continue  # Jupyter's token stays with Jupyter
        if lower == "cookie":
            value = _strip_jupyter_cookies(value)
            if not value:
                continue
            if "Cookie" in out:
                value = out["Cookie"] + "; " + value
            key = "Cookie"
        out[key] = value
    forwarded_for = request.headers.get("X-Forwarded-For")
    out["X-Forwarded-For"] = f"{forwarded_for}, {request.remote_ip}" if forwarded_for else request.remote_ip
    out["X-Forwarded-Proto"] = request.headers.get("X-Forwarded-Proto", request.protocol)
    out["X-Forwarded-Host"] = request.headers.get("X-Forwarded-Host", request.host)
    out["X-Forwarded-Prefix"] = prefix
    out["Host"] = f"{endpoint.host}:{endpoint.port}"
    if "Transfer-Encoding" in request.headers:  # case-insensitive lookup, no second pass
        out["Transfer-Encoding"] = "chunked"
    return out


def rewrite_location(location: str, prefix: str, endpoint: Endpoint) -> str:
    """A redirect the app made relative to its own root, moved under the proxy prefix."""
    parts = urlsplit(location)
    if parts.netloc:
        if parts.hostname not in (endpoint.host, "localhost", "127.0.0.1") or (parts.port or 80) != endpoint.port:
            return location  # somewhere else entirely
        location = parts.path + (f"?{parts.query}" if parts.query else "")
        location += f"#{parts.fragment}" if parts.fragment else ""
    if location.startswith("/") and not location.startswith(prefix + "/"):
        return prefix + location
    return location


def rewrite_cookie_path(cookie: str, prefix: str) -> str:
    return re.sub(r"(?i)(;\s*path=)(/[^;]*)", lambda m: m.group(1) + prefix + m.group(2).rstrip("/") + "/"
                  if m.group(2) != "/" else m.group(1) + prefix + "/", cookie)


def downstream_headers(headers: list[tuple[str, str]], prefix: str, rewrite: bool,
                       endpoint: Endpoint) -> Iterator[tuple[str, str]]:
    """The service's response headers as the browser should see them."""
    connection = ",".join(v for k, v in headers if k.lower() == "connection")
    connection_listed = {h.strip().lower() for h in connection.split(",")}
    for key, value in headers:
        lower = key.lower()
        if lower in HOP_BY_HOP or lower in connection_listed or lower in _PROXY_OWN:
            continue
        if rewrite and lower == "location":
            value = rewrite_location(value, prefix, endpoint)
        elif rewrite and lower == "set-cookie":
            value = rewrite_cookie_path(value, prefix)
        yield key, value
