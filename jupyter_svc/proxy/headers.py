"""Which headers cross the proxy, and how paths in them are rewritten.

Pure functions of a request or response, so the rules are testable without a network.

No credential of Jupyter's or JupyterHub's reaches a service, however it is spelled: a service
could replay it against the server (or the Hub) as the user. What Jupyter reads as a credential:
``Authorization: token|bearer ...`` (jupyter_server's and JupyterHub's schemes, any case), the
``token`` query parameter (tornado decodes ``%74oken`` to it), the login cookie (``username-*`` or
the IdentityProvider's configured name), and under the Hub every ``jupyterhub-*`` cookie; its XSRF
token (``_xsrf`` cookie, ``X-XSRFToken`` / ``X-CSRFToken``) goes too. An ``Authorization`` with
another scheme (an app's own Basic login) is the app's and passes, unless Jupyter authenticated
this very request by token: then whatever it carried was Jupyter's credential.

The client's own forwarding claims (``Forwarded``, ``X-Forwarded-*``, ``X-Real-IP``) are dropped:
the proxy states them itself from what tornado established (which honours them only when the
server is told to trust them, ``ServerApp.trust_xheaders``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus, urlsplit

from jupyter_svc.backends.base import Endpoint

#: Hop-by-hop headers (RFC 9110 7.6.1) never cross a proxy.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "proxy-connection",
})
#: The proxy answers with its own Date and Server, as nginx does.
_PROXY_OWN = frozenset({"date", "server"})
#: Jupyter's and JupyterHub's cookies: a service has no business seeing the user's sessions.
_CREDENTIAL_COOKIE = re.compile(r"^(_xsrf|username-.*|jupyterhub-.*)$")
#: Authorization schemes Jupyter's IdentityProvider and JupyterHub's HubAuth read a token from.
_JUPYTER_SCHEME = re.compile(r"^\s*(token|bearer)(\s|$)", re.IGNORECASE)
#: Headers the proxy never passes on from the client: Jupyter's XSRF token, forwarding claims.
_CLIENT_ONLY = frozenset({"host", "x-xsrftoken", "x-csrftoken", "forwarded", "x-real-ip"})


def is_jupyter_authorization(value: str, token_authenticated: bool) -> bool:
    """True if this ``Authorization`` value is (or may be) a credential of Jupyter's or the Hub's."""
    return token_authenticated or bool(_JUPYTER_SCHEME.match(value))


@functools.lru_cache(maxsize=256)
def strip_credential_cookies(value: str, login_cookie: str = "") -> str:
    """A ``Cookie`` header without Jupyter's and JupyterHub's cookies ('' if none is left); a
    browser sends the same header on every request, so each is parsed once (hot path)."""
    kept = []
    for part in value.split(";"):
        name = part.split("=", 1)[0].strip()
        if not (_CREDENTIAL_COOKIE.match(name) or (login_cookie and name == login_cookie)):
            kept.append(part.strip())
    return "; ".join(p for p in kept if p)


def strip_token_query(query: str) -> str:
    """The query string without Jupyter's ``token`` parameter, however its name is percent-encoded
    (tornado decodes names before Jupyter reads them); everything else passes byte for byte."""
    return "&".join(p for p in query.split("&") if p and unquote_plus(p.split("=", 1)[0]) != "token")


def upstream_headers(request: Any, endpoint: Endpoint, prefix: str, login_cookie: str = "",
                     token_authenticated: bool = False) -> dict[str, str]:
    """Headers to send to the service for a tornado ``request`` arriving under ``prefix``.

    ``login_cookie`` is the name of Jupyter's login cookie; ``token_authenticated`` whether Jupyter
    accepted this request's token (its Authorization is then Jupyter's, whatever the scheme)."""
    connection_listed = {h.strip().lower() for h in request.headers.get("Connection", "").split(",")}
    out: dict[str, str] = {}
    for key, value in request.headers.get_all():
        lower = key.lower()
        if (lower in HOP_BY_HOP or lower in connection_listed or lower in _CLIENT_ONLY
                or lower.startswith("x-forwarded-")):
            continue
        if lower == "authorization" and is_jupyter_authorization(value, token_authenticated):
            continue
        if lower == "cookie":
            value = strip_credential_cookies(value, login_cookie)
            if not value:
                continue
            if "Cookie" in out:
                value = out["Cookie"] + "; " + value
            key = "Cookie"
        out[key] = value
    out["X-Forwarded-For"] = request.remote_ip
    out["X-Forwarded-Proto"] = request.protocol
    out["X-Forwarded-Host"] = request.host
    out["X-Forwarded-Prefix"] = prefix
    out["Host"] = endpoint.authority
    if endpoint.headers:  # the backend's own for this endpoint (an app's token, ...)
        out.update(endpoint.headers)
    if "Transfer-Encoding" in request.headers:  # case-insensitive lookup, no second pass
        out["Transfer-Encoding"] = "chunked"
    return out


def rewrite_location(location: str, prefix: str, endpoint: Endpoint) -> str:
    """A redirect the app made relative to its own root, moved under the proxy prefix."""
    parts = urlsplit(location)
    if parts.netloc:
        elsewhere = parts.hostname not in (endpoint.host, "localhost", "127.0.0.1") or (
            endpoint.unix_socket is None and (parts.port or 80) != endpoint.port)
        if elsewhere:
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
