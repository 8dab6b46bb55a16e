"""The private parts of tornado and jupyter_server that the proxy and the server rely on, each
named here once behind a public name.

tests/test_compat.py checks every one against the installed versions, so an upgrade that removes
or renames one fails there, loudly, instead of as a proxy that misbehaves; pyproject.toml bounds
both packages to the major versions tested.
"""

from __future__ import annotations

import socket
from typing import Any, TypeVar

from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from tornado.iostream import IOStream, SSLIOStream

HandlerClass = TypeVar("HandlerClass", bound=type[web.RequestHandler])


# ---------------------------------------------------------------- jupyter_server: identity
def identity_checked(handler: JupyterHandler) -> bool:
    """True once Jupyter's ``prepare()`` has resolved the user (tornado may call
    ``check_xsrf_cookie`` before it)."""
    return hasattr(handler, "_jupyter_current_user")


def accept_identity(handler: JupyterHandler, user: Any, by_token: bool) -> None:
    """A user the IdentityProvider authenticated earlier for the same credentials: set before
    ``prepare()``, Jupyter takes it as the current user instead of asking the provider again."""
    handler._jupyter_current_user = user
    handler._token_authenticated = by_token  # type: ignore[attr-defined]


async def prepare_without_login_redirect(handler: JupyterHandler) -> None:
    """Jupyter's ``prepare()`` (host check, identity, CORS, XSRF) without sending anonymous
    browsers to the login page: the proxy decides that, since public services need no login."""
    await JupyterHandler.prepare(handler, _redirect_to_login=False)


def not_server_activity(cls: HandlerClass) -> HandlerClass:
    """Class decorator: requests to this handler do not count as the server's API activity
    (``api_last_activity``), so that polling it does not keep an idle server up."""
    cls._track_activity = False  # type: ignore[attr-defined]
    return cls


def histogram_label(cls: type[web.RequestHandler]) -> str:
    """The ``handler`` label of Jupyter's request-duration histogram for requests to ``cls``."""
    return f"{cls.__module__}.{cls.__name__}"


# ---------------------------------------------------------------- tornado: the response
def finished(handler: web.RequestHandler) -> bool:
    """True once the response is complete (or the connection was handed over)."""
    return bool(handler._finished)


def headers_sent(handler: web.RequestHandler) -> bool:
    return bool(handler._headers_written)


def header_set(handler: web.RequestHandler, name: str) -> str | None:
    """A header of the response being built, as set so far."""
    value: str | None = handler._headers.get(name)
    return value


def output_transformed(handler: web.RequestHandler) -> bool:
    """True if an output transform (gzip) rewrites the body: chunks must then go through
    ``write()``, not straight to the connection."""
    return bool(handler._transforms)


class AccessLogHook(web.RequestHandler):
    """tornado's ``finish()`` logs each request through ``RequestHandler._log``; handlers that
    inherit this log through ``log_request()``, whose default is tornado's (the application's
    ``log_function``)."""

    def _log(self) -> None:
        self.log_request()

    def log_request(self) -> None:
        super()._log()


# ---------------------------------------------------------------- tornado: the HTTP/1.1 connection
# (tornado's HTTPConnection interface lacks these; HTTP1Connection, the only one it serves, has them)
def limit_body_size(handler: web.RequestHandler, size: int) -> None:
    """Raise or lower the body size limit for this request only (the server's is ~100 MB)."""
    connection: Any = handler.request.connection
    connection.set_max_body_size(size)


def cut(handler: web.RequestHandler) -> None:
    """Close the client's connection: a response already under way cannot become an error one."""
    connection: Any = handler.request.connection
    connection.close()


def forget_close_reason(handler: web.RequestHandler) -> bool:
    """Drop the traceback of the error that closed the client's connection, which tornado keeps:
    it would hold the frames (this handler among them) in a reference cycle. True if there was one."""
    stream = getattr(handler.request.connection, "stream", None)
    error = getattr(stream, "error", None)
    if error is None:
        return False
    error.__traceback__ = None
    return True


# ---------------------------------------------------------------- tornado: a detached stream
def take_socket(stream: IOStream) -> socket.socket | None:
    """The connection of a detached plain-TCP stream as a socket of its own, for asyncio protocols
    (tornado then forgets it); None, and the stream stays as it is, when it is TLS or still holds
    bytes read ahead or not yet written."""
    if isinstance(stream, SSLIOStream) or stream.closed() or stream._read_buffer_size or stream.writing():
        return None
    taken = stream.socket.dup()  # the same connection on another fd: closing the stream's fd leaves it open
    stream.close()
    return taken


# ---------------------------------------------------------------- tornado: a body it does not write
def splice_target(handler: web.RequestHandler, length: int) -> int | None:
    """The browser's socket, for a body of ``length`` bytes written past tornado (see
    upstream/splice.py); None unless the head is out, the stream is plain TCP with nothing left
    to write, and tornado frames the body by that very Content-Length (not chunked)."""
    connection = handler.request.connection
    stream = getattr(connection, "stream", None)
    if (not isinstance(stream, IOStream) or isinstance(stream, SSLIOStream) or stream.closed()
            or stream.writing() or getattr(connection, "_chunking_output", True)
            or getattr(connection, "_expected_content_remaining", None) != length):
        return None
    return stream.socket.fileno()


def count_written(handler: web.RequestHandler, length: int) -> None:
    """Tell tornado's HTTP/1.1 connection that ``length`` bytes of the body went out past it: its
    finish() checks that the whole Content-Length was written."""
    connection: Any = handler.request.connection
    connection._expected_content_remaining -= length
