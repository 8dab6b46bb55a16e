"""HTTP and WebSocket proxy at ``{base_url}svc/<name>/``, waking services from zero.

Bodies stream both ways in chunks (no buffering; a slow browser pauses reading from the service);
one pool of keep-alive connections (``upstream.py``) serves every request. Only registered
services are reachable: the route takes a name, never a host or a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import math
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.prometheus.metrics import HTTP_REQUEST_DURATION_SECONDS
from tornado import web
from tornado.httputil import url_concat
from tornado.iostream import StreamClosedError

from jupyter_svc.backends.base import Endpoint
from jupyter_svc.model.errors import NotFound, ServiceFailed, StillStarting, SvcError, Unavailable
from jupyter_svc.model.status import ServiceState
from jupyter_svc.upstream import splice
from jupyter_svc.upstream.pool import Exchange, PoolBusy, UpstreamError
from jupyter_svc.upstream.transport import open_connection

from . import compat
from .access import SuccessLog, credentials_key, emits_debug, jupyter_log_metrics
from .headers import downstream_headers, is_jupyter_authorization, strip_token_query, upstream_headers
from .loops import LOOP_REFUSED
from .proxy import Proxy
from .tunnel import ServiceSide, Tunnel
from .wake_page import wake_page

_BODYLESS = {"GET", "HEAD", "OPTIONS", "DELETE"}


@web.stream_request_body
class ProxyHandler(compat.AccessLogHook, JupyterHandler):
    """Forwards one request (or WebSocket) to the service named in the URL."""

    svc_name = ""
    _exchange: Exchange | None = None  # the upstream exchange in flight, for on_connection_close

    @property
    def proxy(self) -> Proxy:
        proxy: Proxy = self.settings["jupyter_svc_proxy"]
        return proxy

    # ------------------------------------------------------------------ access
    def check_xsrf_cookie(self) -> None:
        """Apps post without Jupyter's XSRF token; a same-origin check stands in for it."""
        if not compat.identity_checked(self):
            return  # tornado calls this before prepare(); prepare() calls it again after auth
        if self.token_authenticated or not self.request.headers.get("Cookie"):
            return
        origin = self.request.headers.get("Origin") or self.request.headers.get("Referer")
        if not origin or urlsplit(origin).netloc != self.request.host:
            raise web.HTTPError(403, "cross-origin write to a service refused")

    def check_host(self) -> bool:
        """Jupyter's check, remembered per Host header once it allowed it (it depends on nothing else)."""
        host, access = self.request.host, self.proxy.access
        if access.host_allowed(host):
            return True
        allowed = super().check_host()
        if allowed:
            access.allow_host(host)
        return allowed

    async def prepare(self) -> None:  # type: ignore[override]
        if self.proxy.hops.seen_in(self.request.headers):
            return self._fail(508, LOOP_REFUSED)
        access = self.proxy.access
        key = credentials_key(self.request.headers, self.request.host, "token" in self.request.query_arguments)
        known = access.user(key)
        if known is not None:
            compat.accept_identity(self, *known)
        await compat.prepare_without_login_redirect(self)
        if compat.finished(self):
            return
        if known is None:
            access.remember_user(key, self.current_user, self.token_authenticated)
        name = self.path_kwargs["name"]
        try:
            await self.proxy.manager.restored.wait()  # until then every name would be unknown
            svc = self.proxy.manager.service(name)
        except NotFound:
            svc = None
        except Unavailable as exc:  # still restoring, or another server holds the state folder
            return self._fail(503, exc.message, 5)
        if svc is None or not svc.spec.public:
            if self.current_user is None:  # the same answer for an unknown name and a private one
                if self.request.method in ("GET", "HEAD") and not self._is_websocket():
                    # url_concat keeps the login URL's own query (the Hub's OAuth state)
                    self.redirect(url_concat(self.get_login_url(), {"next": self.request.uri}))
                    return
                raise web.HTTPError(403, "log in to Jupyter to use this service")
            if svc is None:
                raise web.HTTPError(404, f"no service named {name!r} (see {self.base_url}svc/api/services)")
            allowed = self.authorizer.is_authorized(self, self.current_user, "execute", "svc")
            if not (await allowed if inspect.isawaitable(allowed) else allowed):  # may be async (Authorizer)
                raise web.HTTPError(403, f"not authorized to use service {name!r}")
        self.svc_name = name
        compat.limit_body_size(self, self.proxy.settings.max_body_size)
        if self._is_websocket():
            return
        if self._wants_wake_page(svc.status.state):
            self.proxy.manager.spawn(self._wake_quietly())
            self.set_status(503)
            self.set_header("Retry-After", "2")
            self.set_header("Cache-Control", "no-store")
            self.finish(wake_page(name, svc.status.state.value))
            return
        headers = self.request.headers
        self._has_body = (self.request.method not in _BODYLESS or "Content-Length" in headers
                          or "Transfer-Encoding" in headers)
        if self._has_body:  # forward while the body arrives; bodyless requests go in the method
            self._body: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=4)
            self._forward = asyncio.ensure_future(self._proxy_http())

    async def _wake_quietly(self) -> None:
        with contextlib.suppress(SvcError):
            await self.proxy.endpoint(self.svc_name)

    def _is_websocket(self) -> bool:
        return self.request.headers.get("Upgrade", "").lower() == "websocket"

    def _wants_wake_page(self, state: ServiceState) -> bool:
        headers = self.request.headers
        return (self.proxy.settings.wake_page and self.request.method == "GET"
                and state not in (ServiceState.ready, ServiceState.disabled, ServiceState.failed)
                and "text/html" in headers.get("Accept", "") and not headers.get("X-Svc-Wait")
                and self.proxy.manager.external_endpoint(self.svc_name) is None)

    # ------------------------------------------------------------------ HTTP
    async def data_received(self, chunk: bytes) -> None:
        await self._body.put(chunk)  # bounded queue: tornado stops reading until upstream takes it

    async def _request_body(self) -> Any:
        while (chunk := await self._body.get()) is not None:
            yield chunk

    def _upstream_target(self, endpoint: Endpoint, rewrite_path: bool) -> str:
        """The request target on the service: its path (stripped of the prefix if rewrite_path)
        and the query without Jupyter's token."""
        path = self.request.path
        if rewrite_path:
            prefix = f"{self.base_url}svc/{self.svc_name}"
            path = path[len(prefix):] or "/"
        query = strip_token_query(self.request.query)
        return endpoint.path + path + ("?" + query if query else "")

    def _upstream_headers(self, endpoint: Endpoint) -> dict[str, str]:
        login_cookie = ""  # its name depends on the Host header: looked up only when there are cookies
        if "Cookie" in self.request.headers:
            login_cookie = getattr(self.identity_provider, "get_cookie_name", lambda _: "")(self)
        return upstream_headers(self.request, endpoint, f"{self.base_url}svc/{self.svc_name}",
                                login_cookie, bool(self.token_authenticated))

    def _fail(self, status: int, message: str, retry_after: int | None = None) -> None:
        if compat.finished(self):
            return
        if compat.headers_sent(self):
            compat.cut(self)
            return
        self.clear()
        self.set_status(status)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "service": self.svc_name}))

    async def _route(self) -> tuple[Endpoint, bool, bool] | None:
        """Where the request goes: the endpoint (held through a wake), whether that was a cold
        start, and the spec's rewrite_path as it was then; None once the error is answered."""
        proxy, name = self.proxy, self.svc_name
        try:
            endpoint, cold = await proxy.endpoint(name)
            return endpoint, cold, proxy.manager.service(name).spec.rewrite_path
        except NotFound as exc:
            self._fail(404, exc.message)
        except StillStarting as exc:
            self._fail(504, exc.message, 5)
        except Unavailable as exc:  # a failed service tells when a request may start it again
            self._fail(503, exc.message, max(1, math.ceil(exc.retry_after)) if isinstance(exc, ServiceFailed) else 2)
        except SvcError as exc:
            self._fail(503, exc.message, 5)
        return None

    async def _proxy_http(self) -> None:
        proxy, name, method = self.proxy, self.svc_name, self.request.method or "GET"
        counted = proxy.tracker.counts(self.request.path)
        route = await self._route()
        if route is None:
            return
        endpoint, cold, rewrite = route
        proxy.tracker.begin(name, counted)
        status = 502
        exchange: Exchange | None = None
        try:
            headers = self._upstream_headers(endpoint)
            headers.pop("Transfer-Encoding", None)  # the pool frames the body itself
            proxy.hops.mark(headers, self.request.headers)
            exchange = self._exchange = await proxy.upstream.send(
                endpoint, method, self._upstream_target(endpoint, rewrite), headers,
                self._request_body() if self._has_body else None)
            status = exchange.status
            self.set_status(status, exchange.reason or None)
            self.clear_header("Content-Type")
            self.clear_header("Server")
            for key, value in downstream_headers(exchange.headers, f"{self.base_url}svc/{name}", rewrite, endpoint):
                self.add_header(key, value)
            self.set_header("X-Svc-Cold-Start", "true" if cold else "false")
            if not compat.header_set(self, "Access-Control-Allow-Origin"):
                self.clear_header("Access-Control-Allow-Origin")
            await self._relay(exchange, counted)
            if not compat.finished(self):
                self.finish()
        except PoolBusy as exc:
            proxy.metrics.errors.labels(name, "busy").inc()
            self._fail(503, f"{name} is busy: {exc}", 2)
        except UpstreamError as exc:
            proxy.metrics.errors.labels(name, "upstream").inc()
            self._fail(502, f"{name} did not answer: {exc}")
        except (StreamClosedError, splice.BrowserGone):
            proxy.metrics.errors.labels(name, "client_gone").inc()
        finally:
            if exchange is not None:
                proxy.upstream.release(exchange)
                self._exchange = None
            proxy.tracker.end(name, counted)
            proxy.metrics.request_done(name, status)

    async def _relay(self, exchange: Exchange, counted: bool) -> None:
        """Copy the body. An answer that came whole with its head goes out in one write with the
        headers; anything longer is written as it arrives, the service paused while the browser
        lags (bounded memory, whatever the size or content type: SSE included). Chunks go to the
        connection as the pool lends them (no copy), unless a transform (gzip) must see bytes."""
        if exchange.complete:
            self.write(exchange.take_early())
            return
        touch, name = self.proxy.tracker.touch, self.svc_name
        connection: Any = self.request.connection
        lend = not compat.output_transformed(self)
        if lend and (left := splice.spliceable(exchange)):
            early = exchange.take_early()
            self.flush()  # the head, then what came with it; the rest goes socket to socket
            await (connection.write(early) if early else self.flush())
            target = compat.splice_target(self, left)
            if target is not None:
                moved = await splice.splice_body(exchange, target, self.proxy.upstream.pipes,
                                                 (lambda: touch(name)) if counted else _nothing)
                compat.count_written(self, moved)
                return

        def sink(chunk: bytes | memoryview) -> asyncio.Future[Any]:
            if lend:
                flushed: asyncio.Future[Any] = connection.write(chunk)
            else:
                self.write(bytes(chunk))
                flushed = self.flush()
            if flushed.done() and flushed.exception() is not None:
                exchange.abort(StreamClosedError())  # the browser is gone
            if counted:
                touch(name)
            return flushed

        self.flush()  # the head first; the chunks then go straight to the connection
        await exchange.stream(sink, borrow=lend)

    def log_request(self) -> None:
        """Jupyter's access log formats a line for every request, even at debug level when no
        handler shows it; successes skip that unless debug output is on. Jupyter's request-duration
        histogram still counts every request."""
        proxy = self.proxy
        found = proxy.success_log
        if found is None:
            found = proxy.success_log = SuccessLog(jupyter_log_metrics(self.settings.get("log_function")), self.log)
        if found.metrics is None or self.get_status() >= 300 or emits_debug(found.logger):
            super().log_request()
        elif found.metrics:
            # Jupyter's request-duration histogram, labelled as its own request logger does
            proxy.metrics.child(HTTP_REQUEST_DURATION_SECONDS, self.request.method or "", _HISTOGRAM_LABEL,
                                str(self.get_status())).observe(self.request.request_time())

    def compute_etag(self) -> None:
        """Tornado would hash the body and add an ETag the app never sent (and answer 304 for it)."""
        return None

    def set_secure_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """No Jupyter login cookie on an app's response for clients that send the token header
        each time (a browser arriving with ``?token=`` still gets it)."""
        if is_jupyter_authorization(self.request.headers.get("Authorization", ""), False):
            return
        super().set_secure_cookie(name, value, *args, **kwargs)

    async def _finish_http(self, *args: Any, **kwargs: Any) -> None:
        if compat.finished(self):
            return
        if not self._has_body:
            await self._proxy_http()
            return
        await self._body.put(None)
        await asyncio.wait([self._forward])  # cancelled when the client leaves: nothing to answer

    post = put = patch = delete = head = options = _finish_http

    @allow_unauthenticated  # prepare() decides: public services need no login
    async def get(self, *args: Any, **kwargs: Any) -> None:
        if compat.finished(self):
            return
        if self._is_websocket():
            await self._tunnel_websocket()
        elif self._has_body:  # a GET with a body: unusual, but forwarded as it comes
            await self._finish_http()
        else:
            await self._proxy_http()

    def on_connection_close(self) -> None:
        forward = getattr(self, "_forward", None)
        if forward is not None and not forward.done():
            forward.cancel()
        if self._exchange is not None:
            self._exchange.abort(StreamClosedError())
        compat.forget_close_reason(self)

    # ------------------------------------------------------------------ WebSocket
    async def _tunnel_websocket(self) -> None:
        """Count the socket against the service's limit, then tunnel it (it holds a connection of
        its own, outside the upstream pool's)."""
        proxy, name = self.proxy, self.svc_name
        origin = self.request.headers.get("Origin")
        if origin and not self.check_origin():
            return self._fail(403, "cross-origin WebSocket refused")
        if not proxy.take_socket(name):
            proxy.metrics.errors.labels(name, "busy").inc()
            return self._fail(503, f"{name} has {proxy.settings.websockets_per_service} WebSockets open, its "
                                   "limit (websocket_connections_per_service); retry shortly", 2)
        try:
            await self._open_tunnel()
        finally:
            proxy.give_socket(name)

    async def _open_tunnel(self) -> None:
        """Pass the handshake to the service; on its 101, hand both connections to a Tunnel."""
        proxy, name = self.proxy, self.svc_name
        route = await self._route()
        if route is None:
            return
        endpoint, _, rewrite = route
        headers = self._upstream_headers(endpoint)
        headers.update({"Connection": "Upgrade", "Upgrade": "websocket"})
        proxy.hops.mark(headers, self.request.headers)
        target = self._upstream_target(endpoint, rewrite)
        head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        service = ServiceSide()
        try:
            await asyncio.wait_for(open_connection(endpoint, lambda: service), 10)
            assert service.transport is not None
            service.transport.write(head.encode("latin-1"))
            answer = await asyncio.wait_for(asyncio.shield(service.answer), 30)
        except (OSError, asyncio.TimeoutError, UpstreamError) as exc:
            service.close()
            proxy.metrics.errors.labels(name, "upstream").inc()
            return self._fail(502, f"{name} did not accept the WebSocket: {exc or type(exc).__name__}")
        if answer.status != 101:
            service.close()
            return self._fail(*answer.refusal(name))
        client = self.detach()  # tornado writes no response of its own on this connection
        await client.write(answer.head)
        tunnel = Tunnel(client, service, proxy.settings.websocket_max_message_size,
                        lambda: proxy.tracker.socket_message(name, id(tunnel)))
        proxy.tracker.socket_opened(name, id(tunnel), tunnel.close)
        proxy.metrics.request_done(name, 101)
        try:
            await tunnel.run()
        finally:
            proxy.tracker.socket_closed(name, id(tunnel))


def _nothing() -> None:
    pass


_HISTOGRAM_LABEL = compat.histogram_label(ProxyHandler)
