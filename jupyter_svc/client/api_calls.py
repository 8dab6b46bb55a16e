"""The REST API written once: :class:`RestCalls` has one entry per call, both clients inherit it.

An entry builds the request (:class:`Call`: method, path, query, body, parser of the answer) from
the method's arguments; :class:`api_call` turns it into a blocking method on :class:`Client`
(a :class:`SyncTransport`) and a coroutine on :class:`AsyncClient` (an :class:`AsyncTransport`),
with the entry's signature and docstring, typed for mypy through ``__get__``'s overloads. Adding
a REST call is one entry here.
"""

from __future__ import annotations

import builtins
import inspect
import json
import typing
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from pydantic import BaseModel

from jupyter_svc.model.errors import FieldError, SvcError
from jupyter_svc.model.spec import Manifest, ServiceSpec
from jupyter_svc.model.status import ServiceView

P = ParamSpec("P")
T = TypeVar("T")
SpecLike = ServiceSpec | Mapping[str, Any]
ManifestLike = Manifest | Mapping[str, Any] | list[Any]


class ApiError(SvcError):
    """Every failure of a call: ``message`` for people, ``errors`` field by field, ``status_code``."""

    def __init__(self, message: str, errors: list[FieldError] | None = None, status_code: int = 0) -> None:
        super().__init__(message, list(errors or []))
        self.status_code = status_code  # instance value; 0 when the server could not be reached


class ServerNotFound(ApiError):
    """No reachable Jupyter server runs the jupyter-svc extension."""


class ApplyItem(BaseModel):
    name: str
    action: str
    message: str = ""


class ApplyReport(BaseModel):
    ok: bool
    dry_run: bool = False
    results: list[ApplyItem] = []


@dataclass
class Call(Generic[T]):
    """One request, transport-free: the clients send it and ``parse`` reads a 2xx answer."""

    method: str
    path: str  # relative to {base_url}svc/api/
    parse: Callable[[bytes], T]
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None


def _view(data: bytes) -> ServiceView:
    return ServiceView.model_validate_json(data)


def _views(data: bytes) -> list[ServiceView]:
    return [ServiceView.model_validate(v) for v in json.loads(data)["services"]]


def _json(data: bytes) -> dict[str, Any]:
    return json.loads(data)


def _nothing(data: bytes) -> None:
    return None


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _spec_body(spec: SpecLike) -> dict[str, Any]:
    if isinstance(spec, ServiceSpec):
        return spec.model_dump(mode="json", exclude_defaults=True) | {"name": spec.name}
    return dict(spec)


def _wait(wait: float | None) -> dict[str, str]:
    return {} if wait is None else {"wait": f"{wait:g}"}


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _action(name: str, action: str, wait: float | None, body: Any = None) -> Call[ServiceView]:
    return Call("POST", f"services/{_quote(name)}/{action}", _view, _wait(wait), body or {})


def logs_call(name: str, tail: int, follow: bool = False) -> Call[str]:
    params = {"tail": str(tail)} | ({"follow": "1"} if follow else {})
    return Call("GET", f"services/{_quote(name)}/logs", _text, params)


EVENTS = Call("GET", "events", _text)


class SyncTransport(ABC):
    """A client whose calls block until the answer is parsed."""

    @abstractmethod
    def _run(self, call: Call[T]) -> T: ...


class AsyncTransport(ABC):
    """A client whose calls are coroutines."""

    @abstractmethod
    async def _run(self, call: Call[T]) -> T: ...


class api_call(Generic[P, T]):  # lower case: a decorator, like property
    """An entry of :class:`RestCalls` as a method of either client (see the module's docstring)."""

    def __init__(self, build: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self.build = build
        self.__name__, self.__qualname__ = build.__name__, build.__qualname__
        self.__doc__, self.__module__ = build.__doc__, build.__module__
        # the entry's signature answering what its Call parses (-> ServiceView, not -> Call[...])
        hints = typing.get_type_hints(build)
        (answer,) = typing.get_args(hints["return"])
        params = [p.replace(annotation=hints.get(p.name, p.annotation))
                  for p in inspect.signature(build).parameters.values()]
        self.__signature__ = inspect.Signature(params, return_annotation=None if answer is type(None) else answer)

    @overload
    def __get__(self, client: None, owner: type[Any] | None = None) -> api_call[P, T]: ...
    @overload
    def __get__(self, client: SyncTransport, owner: type[Any] | None = None) -> Callable[P, T]: ...
    @overload
    def __get__(self, client: AsyncTransport,
                owner: type[Any] | None = None) -> Callable[P, Coroutine[Any, Any, T]]: ...

    def __get__(self, client: Any, owner: type[Any] | None = None) -> Any:
        if client is None:
            return self
        build = self.build
        if isinstance(client, AsyncTransport):
            async def awaited(*args: P.args, **kwargs: P.kwargs) -> T:
                return await client._run(build(client, *args, **kwargs))
            method: Callable[P, Any] = awaited
        else:
            def blocking(*args: P.args, **kwargs: P.kwargs) -> T:
                return client._run(build(client, *args, **kwargs))
            method = blocking
        method.__name__ = method.__qualname__ = self.__name__
        method.__doc__, method.__module__ = self.__doc__, type(client).__module__
        params = list(self.__signature__.parameters.values())[1:]  # without self
        method.__signature__ = self.__signature__.replace(parameters=params)  # type: ignore[attr-defined]
        return method

    def __call__(self, client: Any, *args: Any, **kwargs: Any) -> Any:
        """``Client.create(client, spec)``, as for any method."""
        return self.__get__(client, type(client))(*args, **kwargs)


class RestCalls:
    """Every REST call once; :class:`Client` and :class:`AsyncClient` add how a :class:`Call` is sent."""

    @api_call
    def list(self) -> Call[builtins.list[ServiceView]]:
        """Every service, with its spec and status."""
        return Call("GET", "services", _views)

    @api_call
    def get(self, name: str) -> Call[ServiceView]:
        """One service's spec and status; ApiError 404 if there is none."""
        return Call("GET", f"services/{_quote(name)}", _view)

    @api_call
    def create(self, spec: SpecLike, wait: float | None = None) -> Call[ServiceView]:
        """POST: fails with 409 if the name is taken."""
        return Call("POST", "services", _view, _wait(wait), _spec_body(spec))

    @api_call
    def put(self, spec: SpecLike, wait: float | None = None) -> Call[ServiceView]:
        """Create or replace the whole spec."""
        body = _spec_body(spec)
        return Call("PUT", f"services/{_quote(str(body.get('name', '')))}", _view, _wait(wait), body)

    @api_call
    def update(self, name: str, changes: Mapping[str, Any], wait: float | None = None) -> Call[ServiceView]:
        """JSON merge patch of the spec (``None`` removes a key)."""
        return Call("PATCH", f"services/{_quote(name)}", _view, _wait(wait), dict(changes))

    @api_call
    def delete(self, name: str) -> Call[None]:
        """Stop the service and forget its spec."""
        return Call("DELETE", f"services/{_quote(name)}", _nothing)

    @api_call
    def restart(self, name: str, wait: float | None = None) -> Call[ServiceView]:
        """Start a fresh instance (the old one serves until the new one is ready)."""
        return _action(name, "restart", wait)

    @api_call
    def enable(self, name: str, wait: float | None = None) -> Call[ServiceView]:
        """Allow the service to run (and wake) again."""
        return _action(name, "enable", wait)

    @api_call
    def disable(self, name: str, wait: float | None = None) -> Call[ServiceView]:
        """Stop the service and never wake it until it is enabled."""
        return _action(name, "disable", wait)

    @api_call
    def wake(self, name: str, wait: float | None = None) -> Call[ServiceView]:
        """Start a service that was scaled to zero."""
        return _action(name, "wake", wait)

    @api_call
    def scale(self, name: str, replicas: int, wait: float | None = None) -> Call[ServiceView]:
        """Run ``replicas`` instances; 0 scales to zero."""
        return _action(name, "scale", wait, {"replicas": replicas})

    @api_call
    def stop(self, name: str, wait: float | None = None) -> Call[ServiceView]:
        """Scale to zero: the next request through its URL wakes it."""
        return _action(name, "scale", wait, {"replicas": 0})

    @api_call
    def logs(self, name: str, tail: int = 100) -> Call[str]:
        """The last ``tail`` lines the service printed."""
        return logs_call(name, tail)

    @api_call
    def apply(self, manifest: ManifestLike, mode: str = "merge", dry_run: bool = False,
              wait: float | None = None) -> Call[ApplyReport]:
        """Create, update (and with ``mode="replace"`` delete) services to match a manifest."""
        data = manifest.model_dump(mode="json") if isinstance(manifest, Manifest) else manifest
        return Call("POST", "apply", ApplyReport.model_validate_json, _wait(wait),
                    {"manifest": data, "mode": mode, "dry_run": dry_run})

    @api_call
    def schema(self) -> Call[dict[str, Any]]:
        """The JSON Schema of a service spec."""
        return Call("GET", "schema", _json)

    @api_call
    def backends(self) -> Call[dict[str, Any]]:
        """The server's backends, its default one, what each cannot honour and whether it prefers
        Unix sockets for templates."""
        return Call("GET", "backends", _json)

    @api_call
    def openapi(self) -> Call[dict[str, Any]]:
        """The OpenAPI 3 document of the REST API."""
        return Call("GET", "openapi.json", _json)


def error_from(status: int, data: bytes, url: str) -> ApiError:
    """The server's JSON error (``message``, ``errors``) as an :class:`ApiError`."""
    try:
        payload = json.loads(data)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and ("errors" in payload or "reason" in payload):
        errors = [FieldError(str(e.get("field", "")), str(e.get("message", "")))
                  for e in payload.get("errors") or [] if isinstance(e, dict)]
        message = payload.get("reason") or payload.get("message") or f"HTTP {status}"
        return ApiError(str(message), errors, status)
    if isinstance(payload, dict) and payload.get("message"):
        return ApiError(str(payload["message"]), [], status)
    if status in (401, 403):
        return ApiError(f"{url} refused the request (HTTP {status}): check the token", [], status)
    return ApiError(f"HTTP {status} from {url}", [], status)
