"""Sync and async clients for the jupyter-svc REST API, returning the pydantic models.

Every REST call is written once, in :class:`~jupyter_svc.client.api_calls.RestCalls`; this module
only sends a :class:`Call`: the sync client with the standard library (so it works inside a kernel
whose event loop is already running), the async one with tornado, which jupyter_server already
depends on. The event and log streams are here because the two read a stream differently.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from jupyter_svc.model.status import ServiceView

from .api_calls import (
    EVENTS,
    ApiError,
    ApplyItem,
    ApplyReport,
    AsyncTransport,
    Call,
    RestCalls,
    ServerNotFound,
    SyncTransport,
    error_from,
    logs_call,
)
from .discovery import ServerInfo, browser_origin, iter_candidates
from .events import EventParser, ServiceEvent, parse_events

__all__ = ["ApiError", "ApplyItem", "ApplyReport", "AsyncClient", "Client", "ServerInfo", "ServerNotFound",
           "ServiceEvent"]

T = TypeVar("T")
FIX_HINT = ("start one with `jupyter lab` or `jupyter server` in an environment where jupyter-svc is "
            "installed, or give its URL and token (url=/token= in Python, --url/--token in the CLI, "
            "or JUPYTER_SVC_URL and JUPYTER_SVC_TOKEN)")


class _Base:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 30.0) -> None:
        self._url, self._token, self.timeout = url, token, timeout
        self._server: ServerInfo | None = None

    def _headers(self, server: ServerInfo, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if server.token:
            headers["Authorization"] = f"token {server.token}"
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    @staticmethod
    def _target(server: ServerInfo, call: Call[Any]) -> str:
        query = f"?{urllib.parse.urlencode(call.params)}" if call.params else ""
        return f"{server.url}svc/api/{call.path}{query}"

    @staticmethod
    def _not_found(tried: list[str]) -> ServerNotFound:
        where = "; ".join(tried) if tried else "no JUPYTER_SVC_URL, JUPYTER_SERVER_URL or server runtime file"
        return ServerNotFound(f"No Jupyter server with jupyter-svc is reachable (tried {where}): {FIX_HINT}.")

    @staticmethod
    def _probe_failure(server: ServerInfo, status: int, reason: str) -> str:
        if status == 404:
            return f"{server.url} ({server.source}): the jupyter-svc extension is not enabled there"
        if status in (401, 403):
            return f"{server.url} ({server.source}): HTTP {status}, the token is missing or wrong"
        return f"{server.url} ({server.source}): {reason or f'HTTP {status}'}"

    def _result(self, server: ServerInfo, call: Call[T], status: int, data: bytes) -> T:
        if status >= 400:
            raise error_from(status, data, self._target(server, call))
        return call.parse(data)

    def link(self, target: ServiceView | str) -> str:
        """URL users open for a service (its proxy path on the server), where their browser reaches
        it: on the server's own address, or under JupyterHub on the Hub's public URL or relative to
        the page (:func:`~jupyter_svc.client.discovery.browser_origin`); API calls keep ``server.url``."""
        server = self._server or ServerInfo(self._url or "http://localhost/")
        if isinstance(target, ServiceView) and target.status.url:
            path = target.status.url
        else:
            name = target.name if isinstance(target, ServiceView) else target
            path = urllib.parse.urlsplit(server.url).path + f"svc/{name}/"
        return browser_origin(server) + path


class Client(_Base, RestCalls, SyncTransport):
    """Blocking client: ``Client()`` finds the server by itself; ``Client(url, token)`` does not."""

    @property
    def server(self) -> ServerInfo:
        if self._server is None:
            tried = []
            for server in iter_candidates(self._url, self._token):
                status, data = self._send(server, "GET", f"{server.url}svc/api/services", None, 5.0)
                if 200 <= status < 300:
                    self._server = server
                    return server
                tried.append(self._probe_failure(server, status, data.decode(errors="replace")))
            raise self._not_found(tried)
        return self._server

    def _send(self, server: ServerInfo, method: str, url: str, body: Any,
              timeout: float) -> tuple[int, bytes]:
        payload = None if body is None else json.dumps(body).encode()
        headers = self._headers(server, payload is not None)
        request = urllib.request.Request(url, payload, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return 0, str(reason).encode()

    def _run(self, call: Call[T]) -> T:
        server = self.server
        url = self._target(server, call)
        wait = float(call.params.get("wait", 0))
        status, data = self._send(server, call.method, url, call.body, self.timeout + wait)
        if status == 0:
            raise ApiError(f"cannot reach the Jupyter server at {server.url}: {data.decode()}")
        return self._result(server, call, status, data)

    def follow_logs(self, name: str, tail: int = 10, timeout: float | None = None,
                    container: str | None = None) -> Iterator[str]:
        """Lines as the service (its ``container``) prints them, until the caller stops or ``timeout``
        seconds pass."""
        return self._lines(logs_call(name, tail, follow=True, container=container), timeout)

    def events(self, timeout: float | None = None) -> Iterator[ServiceEvent]:
        """Every service once, then each change (``service``) or removal (``deleted``) as it happens."""
        return parse_events(self._lines(EVENTS, timeout))

    def _lines(self, call: Call[Any], timeout: float | None) -> Iterator[str]:
        """A streamed answer line by line; a quiet stream ends at most ``timeout`` after the deadline
        (the socket timeout bounds each read)."""
        server = self.server
        request = urllib.request.Request(self._target(server, call), headers=self._headers(server, False))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            response = urllib.request.urlopen(request, timeout=3600 if timeout is None else max(timeout, 0.1))
        except urllib.error.HTTPError as exc:
            raise error_from(exc.code, exc.read(), request.full_url) from None
        except (urllib.error.URLError, OSError) as exc:
            raise ApiError(f"cannot reach the Jupyter server at {server.url}: {getattr(exc, 'reason', exc)}") from None
        with response:
            try:
                while deadline is None or time.monotonic() < deadline:
                    raw = response.readline()
                    if not raw:
                        return
                    yield raw.decode("utf-8", "replace").rstrip("\n")
            except (TimeoutError, OSError):
                return

    def wait_for(self, name: str, states: set[str], timeout: float = 60.0) -> ServiceView:
        """Poll until the service is in one of ``states``; ApiError with its message otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            view = self.get(name)
            if view.status.state.value in states:
                return view
            if time.monotonic() > deadline:
                raise ApiError(f"{name} is {view.status.state.value}, not {'/'.join(sorted(states))}, "
                               f"after {timeout:g}s: {view.status.message}")
            time.sleep(0.1)


class AsyncClient(_Base, RestCalls, AsyncTransport):
    """Non-blocking client on tornado; same methods as :class:`Client`, awaited."""

    async def _fetch(self, server: ServerInfo, method: str, url: str, body: Any, timeout: float,
                     on_chunk: Callable[[bytes], None] | None = None) -> tuple[int, bytes]:
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
        from tornado.iostream import StreamClosedError

        payload = None if body is None else json.dumps(body)
        if payload is None and method in ("POST", "PUT", "PATCH"):
            payload = "{}"
        request = HTTPRequest(url, method, self._headers(server, payload is not None), payload,
                              connect_timeout=min(timeout, 10.0), request_timeout=timeout,
                              streaming_callback=on_chunk)
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, HTTPClientError, StreamClosedError) as exc:  # refused, timed out, reset
            return 0, str(exc).encode()
        if response.code == 599:
            return 0, str(response.error).encode()
        return response.code, response.body or b""

    async def connect(self) -> ServerInfo:
        """Find a reachable server with the extension (done lazily by every call)."""
        if self._server is None:
            tried = []
            for server in iter_candidates(self._url, self._token):
                status, data = await self._fetch(server, "GET", f"{server.url}svc/api/services", None, 5.0)
                if 200 <= status < 300:
                    self._server = server
                    return server
                tried.append(self._probe_failure(server, status, data.decode(errors="replace")))
            raise self._not_found(tried)
        return self._server

    async def _run(self, call: Call[T]) -> T:
        server = await self.connect()
        wait = float(call.params.get("wait", 0))
        status, data = await self._fetch(server, call.method, self._target(server, call), call.body,
                                         self.timeout + wait)
        if status == 0:
            raise ApiError(f"cannot reach the Jupyter server at {server.url}: {data.decode()}")
        return self._result(server, call, status, data)

    async def follow_logs(self, name: str, tail: int = 10, container: str | None = None) -> AsyncIterator[str]:
        """Lines as the service (its ``container``) prints them; stop iterating to close the stream."""
        await self.get(name)  # a clear 404 before the stream starts
        async for line in self._lines(logs_call(name, tail, follow=True, container=container)):
            yield line

    async def events(self) -> AsyncIterator[ServiceEvent]:
        """Every service once, then each change or removal as it happens; stop iterating to close."""
        parser = EventParser()
        async for line in self._lines(EVENTS):
            event = parser.feed(line)
            if event is not None:
                yield event

    async def _lines(self, call: Call[Any]) -> AsyncIterator[str]:
        server = await self.connect()
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        done = False

        def on_chunk(chunk: bytes) -> None:
            if done:  # raising here makes tornado close the connection
                raise ConnectionAbortedError("stream closed by the reader")
            queue.put_nowait(chunk)

        fetch = asyncio.ensure_future(self._fetch(server, "GET", self._target(server, call), None, 3600.0,
                                                  on_chunk))
        fetch.add_done_callback(lambda _: queue.put_nowait(None))
        pending = b""
        try:
            while (chunk := await queue.get()) is not None:
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield line.decode("utf-8", "replace")
            status, data = fetch.result()
            if status >= 400 or status == 0:
                raise error_from(status, data, self._target(server, call))
        finally:
            done = True
