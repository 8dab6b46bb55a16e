"""Sync and async clients for the jupyter-svc REST API, returning the pydantic models.

Both share one description of each call (:class:`_Call`); only the transport differs: the sync
client uses the standard library (so it works inside a kernel whose event loop is already running)
and the async one tornado, which jupyter_server already depends on.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, TypeVar

from jupyter_svc.model.status import ServiceView

from .api_calls import (
    ApiError,
    ApplyItem,
    ApplyReport,
    EventParser,
    ManifestLike,
    ServerNotFound,
    ServiceEvent,
    SpecLike,
    _Call,
    _Calls,
    _json,
    _text,
    error_from,
    parse_events,
)
from .discovery import ServerInfo, candidates

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
    def _target(server: ServerInfo, call: _Call[Any]) -> str:
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

    def _result(self, server: ServerInfo, call: _Call[T], status: int, data: bytes) -> T:
        if status >= 400:
            raise error_from(status, data, self._target(server, call))
        return call.parse(data)

    def link(self, target: ServiceView | str) -> str:
        """Absolute URL users open for a service (its proxy path on the server)."""
        server = self._server or ServerInfo(self._url or "http://localhost/")
        if isinstance(target, ServiceView) and target.status.url:
            path = target.status.url
        else:
            name = target.name if isinstance(target, ServiceView) else target
            path = urllib.parse.urlsplit(server.url).path + f"svc/{name}/"
        return server.origin + path


class Client(_Base):
    """Blocking client: ``Client()`` finds the server by itself; ``Client(url, token)`` does not."""

    @property
    def server(self) -> ServerInfo:
        if self._server is None:
            tried = []
            for server in candidates(self._url, self._token):
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

    def _run(self, call: _Call[T]) -> T:
        server = self.server
        url = self._target(server, call)
        wait = float(call.params.get("wait", 0))
        status, data = self._send(server, call.method, url, call.body, self.timeout + wait)
        if status == 0:
            raise ApiError(f"cannot reach the Jupyter server at {server.url}: {data.decode()}")
        return self._result(server, call, status, data)

    def list(self) -> builtins.list[ServiceView]:
        return self._run(_Calls.list())

    def get(self, name: str) -> ServiceView:
        return self._run(_Calls.get(name))

    def create(self, spec: SpecLike, wait: float | None = None) -> ServiceView:
        """POST: fails with 409 if the name is taken."""
        return self._run(_Calls.create(spec, wait))

    def put(self, spec: SpecLike, wait: float | None = None) -> ServiceView:
        """Create or replace the whole spec."""
        return self._run(_Calls.put(spec, wait))

    def update(self, name: str, changes: Mapping[str, Any], wait: float | None = None) -> ServiceView:
        """JSON merge patch of the spec (``None`` removes a key)."""
        return self._run(_Calls.update(name, changes, wait))

    def delete(self, name: str) -> None:
        self._run(_Calls.delete(name))

    def restart(self, name: str, wait: float | None = None) -> ServiceView:
        return self._run(_Calls.action(name, "restart", wait))

    def enable(self, name: str, wait: float | None = None) -> ServiceView:
        return self._run(_Calls.action(name, "enable", wait))

    def disable(self, name: str, wait: float | None = None) -> ServiceView:
        return self._run(_Calls.action(name, "disable", wait))

    def wake(self, name: str, wait: float | None = None) -> ServiceView:
        return self._run(_Calls.action(name, "wake", wait))

    def scale(self, name: str, replicas: int, wait: float | None = None) -> ServiceView:
        return self._run(_Calls.action(name, "scale", wait, {"replicas": replicas}))

    def stop(self, name: str, wait: float | None = None) -> ServiceView:
        """Scale to zero: the next request through its URL wakes it."""
        return self.scale(name, 0, wait)

    def logs(self, name: str, tail: int = 100) -> str:
        return self._run(_Calls.logs(name, tail))

    def follow_logs(self, name: str, tail: int = 10, timeout: float | None = None) -> Iterator[str]:
        """Lines as the service prints them, until the caller stops or ``timeout`` seconds pass."""
        return self._lines(_Calls.logs(name, tail, follow=True), timeout)

    def events(self, timeout: float | None = None) -> Iterator[ServiceEvent]:
        """Every service once, then each change (``service``) or removal (``deleted``) as it happens."""
        return parse_events(self._lines(_Call("GET", "events", _text), timeout))

    def _lines(self, call: _Call[Any], timeout: float | None) -> Iterator[str]:
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

    def apply(self, manifest: ManifestLike, mode: str = "merge",
              dry_run: bool = False, wait: float | None = None) -> ApplyReport:
        return self._run(_Calls.apply(manifest, mode, dry_run, wait))

    def schema(self) -> dict[str, Any]:
        return self._run(_Call("GET", "schema", _json))

    def openapi(self) -> dict[str, Any]:
        return self._run(_Call("GET", "openapi.json", _json))

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


class AsyncClient(_Base):
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
            for server in candidates(self._url, self._token):
                status, data = await self._fetch(server, "GET", f"{server.url}svc/api/services", None, 5.0)
                if 200 <= status < 300:
                    self._server = server
                    return server
                tried.append(self._probe_failure(server, status, data.decode(errors="replace")))
            raise self._not_found(tried)
        return self._server

    async def _run(self, call: _Call[T]) -> T:
        server = await self.connect()
        wait = float(call.params.get("wait", 0))
        status, data = await self._fetch(server, call.method, self._target(server, call), call.body,
                                         self.timeout + wait)
        if status == 0:
            raise ApiError(f"cannot reach the Jupyter server at {server.url}: {data.decode()}")
        return self._result(server, call, status, data)

    async def list(self) -> builtins.list[ServiceView]:
        return await self._run(_Calls.list())

    async def get(self, name: str) -> ServiceView:
        return await self._run(_Calls.get(name))

    async def create(self, spec: SpecLike, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.create(spec, wait))

    async def put(self, spec: SpecLike, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.put(spec, wait))

    async def update(self, name: str, changes: Mapping[str, Any], wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.update(name, changes, wait))

    async def delete(self, name: str) -> None:
        await self._run(_Calls.delete(name))

    async def restart(self, name: str, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.action(name, "restart", wait))

    async def enable(self, name: str, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.action(name, "enable", wait))

    async def disable(self, name: str, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.action(name, "disable", wait))

    async def wake(self, name: str, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.action(name, "wake", wait))

    async def scale(self, name: str, replicas: int, wait: float | None = None) -> ServiceView:
        return await self._run(_Calls.action(name, "scale", wait, {"replicas": replicas}))

    async def stop(self, name: str, wait: float | None = None) -> ServiceView:
        return await self.scale(name, 0, wait)

    async def logs(self, name: str, tail: int = 100) -> str:
        return await self._run(_Calls.logs(name, tail))

    async def follow_logs(self, name: str, tail: int = 10) -> AsyncIterator[str]:
        """Lines as the service prints them; stop iterating to close the stream."""
        await self.get(name)  # a clear 404 before the stream starts
        async for line in self._lines(_Calls.logs(name, tail, follow=True)):
            yield line

    async def events(self) -> AsyncIterator[ServiceEvent]:
        """Every service once, then each change or removal as it happens; stop iterating to close."""
        parser = EventParser()
        async for line in self._lines(_Call("GET", "events", _text)):
            event = parser.feed(line)
            if event is not None:
                yield event

    async def _lines(self, call: _Call[Any]) -> AsyncIterator[str]:
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

    async def apply(self, manifest: ManifestLike, mode: str = "merge",
                    dry_run: bool = False, wait: float | None = None) -> ApplyReport:
        return await self._run(_Calls.apply(manifest, mode, dry_run, wait))

    async def schema(self) -> dict[str, Any]:
        return await self._run(_Call("GET", "schema", _json))

    async def openapi(self) -> dict[str, Any]:
        return await self._run(_Call("GET", "openapi.json", _json))
