"""The REST API described as data, and the one exception type its failures become.

Kept apart from the transports in client.py so that the sync and async clients share every route,
every parser and the error mapping.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from jupyter_svc.model.errors import FieldError, SvcError
from jupyter_svc.model.spec import Manifest, ServiceSpec
from jupyter_svc.model.status import ServiceView

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
class _Call(Generic[T]):
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


class _Calls:
    """The REST API as data: one method per route, shared by both clients."""

    @staticmethod
    def list() -> _Call[list[ServiceView]]:
        return _Call("GET", "services", _views)

    @staticmethod
    def get(name: str) -> _Call[ServiceView]:
        return _Call("GET", f"services/{_quote(name)}", _view)

    @staticmethod
    def create(spec: SpecLike, wait: float | None) -> _Call[ServiceView]:
        return _Call("POST", "services", _view, _wait(wait), _spec_body(spec))

    @staticmethod
    def put(spec: SpecLike, wait: float | None) -> _Call[ServiceView]:
        body = _spec_body(spec)
        return _Call("PUT", f"services/{_quote(str(body.get('name', '')))}", _view, _wait(wait), body)

    @staticmethod
    def update(name: str, changes: Mapping[str, Any], wait: float | None) -> _Call[ServiceView]:
        return _Call("PATCH", f"services/{_quote(name)}", _view, _wait(wait), dict(changes))

    @staticmethod
    def delete(name: str) -> _Call[None]:
        return _Call("DELETE", f"services/{_quote(name)}", _nothing)

    @staticmethod
    def action(name: str, action: str, wait: float | None, body: Any = None) -> _Call[ServiceView]:
        return _Call("POST", f"services/{_quote(name)}/{action}", _view, _wait(wait), body or {})

    @staticmethod
    def logs(name: str, tail: int, follow: bool = False) -> _Call[str]:
        params = {"tail": str(tail)} | ({"follow": "1"} if follow else {})
        return _Call("GET", f"services/{_quote(name)}/logs", _text, params)

    @staticmethod
    def apply(manifest: ManifestLike, mode: str, dry_run: bool,
              wait: float | None) -> _Call[ApplyReport]:
        data = manifest.model_dump(mode="json") if isinstance(manifest, Manifest) else manifest
        return _Call("POST", "apply", ApplyReport.model_validate_json, _wait(wait),
                     {"manifest": data, "mode": mode, "dry_run": dry_run})


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


@dataclass
class ServiceEvent:
    """One server-sent event: ``service`` (the view after a change) or ``deleted`` (name only)."""

    kind: str
    name: str
    view: ServiceView | None = None


class EventParser:
    """Server-sent events, fed line by line (``event:``/``data:`` fields, blank line ends one)."""

    def __init__(self) -> None:
        self.kind: str = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> ServiceEvent | None:
        if line.startswith("event:"):
            self.kind = line[6:].strip()
        elif line.startswith("data:"):
            self.data.append(line[5:].lstrip())
        elif not line:
            kind, text = self.kind, "\n".join(self.data)
            self.kind, self.data = "message", []
            if text:
                payload = json.loads(text)
                view = ServiceView.model_validate(payload) if kind == "service" else None
                return ServiceEvent(kind, str(payload.get("name", "")), view)
        return None  # comments (keep-alives) and unknown fields


def parse_events(lines: Iterator[str]) -> Iterator[ServiceEvent]:
    parser = EventParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event
