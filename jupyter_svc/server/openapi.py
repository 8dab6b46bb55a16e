"""The OpenAPI 3.1 document of the REST API: every route, every status it answers, the bodies and
content types as sent, and Jupyter's security schemes. tests/test_api.py keeps it true to
`handlers.api_routes()`, tests/test_fuzz_api.py (schemathesis) to what the server answers."""

from __future__ import annotations

import functools
import json
from typing import Any

from jupyter_svc._version import __version__
from jupyter_svc.model.names import NAME_PATTERN

from .openapi_schemas import READ_SECURITY, WRITE_SECURITY, ref, schemas, security_schemes

# the routes take reserved names too (the handlers then say why): the pattern alone, as they match
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME_PATTERN}}
_WAIT = {"name": "wait", "in": "query", "required": False, "schema": {"type": "number"},
         "description": "Answer once the service settles, waiting at most this many seconds."}


_ref = ref

#: Every status any route answers, with what it means there; each operation lists those it can send.
_MEANINGS = {
    400: "Malformed request: the body is not JSON, not an object, or nests over 32 levels",
    403: "Not authenticated (no or wrong credentials; a write with the cookie but no XSRF token) or not "
         "authorized (Jupyter's authorizer, resource 'svc')",
    404: "No such service",
    409: "Conflict with the current state, or a name whose stored file was set aside (the message says where)",
    413: "The body is larger than api_max_body_size",
    422: "Invalid: errors name each field (a spec, a query parameter, or a service name in the path)",
    500: "The change could not be stored (the message names the path and errno); nothing changed",
    503: "Another server holds the state folder (the message names that process)",
    507: "The disk is full: the change was not stored; nothing changed",
}
_READ, _NAMED = (403, 503), (403, 404, 422, 503)
_BODY = (400, 413, 422)
_STORED = (409, 500, 507)


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ref("Error"), _MEANINGS[code]) for code in sorted(set(codes))}


def _text(description: str, media: str = "text/plain") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


#: One server-sent event (OpenAPI 3.1 reads an event stream's schema as each event's).
_EVENT = {"type": "object", "required": ["event", "data"], "properties": {
    "event": {"type": "string", "enum": ["service", "deleted"]},
    "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {"anyOf": [
        _ref("ServiceView"), {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}]}}}}

_VIEW_WRITE = {"200": _json(_ref("ServiceView"), "Settled (with ?wait)"),
               "202": _json(_ref("ServiceView"), "Accepted; follow status.state")}


def _op(summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, write: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, "parameters": params or [],
                          "security": WRITE_SECURITY if write else READ_SECURITY}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"post": _op(summary, {**_VIEW_WRITE, **_errors(*_NAMED, *_BODY, *_STORED)}, [_NAME, _WAIT], body,
                        write=True)}


def _paths() -> dict[str, dict[str, Any]]:
    return {
        "/services": {
            "get": _op("List services", {"200": _json({"type": "object", "required": ["services"], "properties": {
                "services": {"type": "array", "items": _ref("ServiceView")}}}), **_errors(*_READ)}),
            "post": _op("Create a service", {"201": _json(_ref("ServiceView"), "Created"),
                                             **_errors(*_READ, *_BODY, *_STORED)},
                        [_WAIT], _ref("ServiceSpec"), write=True),
        },
        "/services/{name}": {
            "get": _op("One service", {"200": _json(_ref("ServiceView")), **_errors(*_NAMED)}, [_NAME]),
            "put": _op("Create or update", {**_VIEW_WRITE, "201": _json(_ref("ServiceView"), "Created"),
                                            **_errors(*_NAMED, *_BODY, *_STORED)},
                       [_NAME, _WAIT], _ref("ServiceSpec"), write=True),
            "patch": _op("JSON merge patch of the spec", {**_VIEW_WRITE, **_errors(*_NAMED, *_BODY, *_STORED)},
                         [_NAME, _WAIT], _ref("ServicePatch"), write=True),
            "delete": _op("Stop and delete", {"204": {"description": "Deleted"}, **_errors(*_NAMED, *_STORED)},
                          [_NAME], write=True),
        },
        "/services/{name}/restart": _action("Restart"),
        "/services/{name}/enable": _action("Set desired_state ready"),
        "/services/{name}/disable": _action("Set desired_state disabled; stops it"),
        "/services/{name}/wake": _action("Start a service that is at zero, without changing its spec"),
        "/services/{name}/scale": _action("Scale; 0 scales to zero", {
            "type": "object", "required": ["replicas"],
            "properties": {"replicas": {"type": "integer", "minimum": 0, "maximum": 100}}}),
        "/services/{name}/logs": {"get": _op("Output of the service", {
            "200": _text("Lines of text; with ?follow, new lines as they come"), **_errors(*_NAMED)}, [_NAME,
            {"name": "tail", "in": "query", "schema": {"type": "integer", "default": 100},
             "description": "How many of the last lines."},
            {"name": "follow", "in": "query", "schema": {"type": "boolean"},
             "description": "Keep the response open and stream new lines."},
            {"name": "container", "in": "query", "schema": {"type": "string"},
             "description": "One of the service's containers (a sidecar, an init step) on a backend that "
                            "runs several; others answer 422."}])},
        "/services/{name}/activity": {"post": _op(
            "Mark the service busy (work without traffic), postponing its scale to zero",
            {"200": _json(_ref("ServiceView")), **_errors(*_NAMED)}, [_NAME], write=True)},
        "/activity": {"get": _op("The server's idleness: kernels, terminals, API, services (not itself activity)",
                                 {"200": _json({"type": "object"}), **_errors(403)})},
        "/metrics": {"get": _op("Prometheus metrics", {
            "200": _text("Prometheus text exposition format"), **_errors(403)})},
        "/events": {"get": _op("Server-sent events: 'service' (a ServiceView) and 'deleted' ({name})", {
            "200": {"description": "An event stream that stays open (the schema is one event's)",
                    "content": {"text/event-stream": {"schema": _EVENT}}}, **_errors(*_READ)})},
        "/apply": {"post": _op("Apply a manifest (validated whole first)", {
            "200": _json(_ref("ApplyResult")), **_errors(*_READ, *_BODY, *_STORED)}, [_WAIT], _ref("ApplyRequest"),
            write=True)},
        "/schema": {"get": _op("JSON Schema of ServiceSpec", {"200": _json({"type": "object"}), **_errors(403)})},
        "/backends": {"get": _op("The backends, the default one, and the spec fields each cannot honour", {
            "200": _json({"type": "object", "required": ["default", "backends"], "properties": {
                "default": {"type": "string"},
                "backends": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "unsupported": {"type": "array", "items": {"type": "string"}},
                    "unix_sockets": {"type": "boolean", "description": "templates listen on {unix_socket}"},
                }}}}}), **_errors(403)})},
        "/templates": {"get": _op("The templates: name, description, parameters, whether its framework is here", {
            "200": _json({"type": "object", "properties": {
                "templates": {"type": "array", "items": {"type": "object"}},
                "problems": {"type": "array", "items": {"type": "string"}}}}), **_errors(403)})},
        "/templates/{template}/spec": {"get": _op(
            "The spec (without a name) a template makes; each query argument is one of its parameters",
            {"200": _json({"type": "object", "properties": {"template": {"type": "string"},
                                                            "spec": {"type": "object"}}}), **_errors(403, 404, 422)},
            [{"name": "template", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}}])},
        "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"}), **_errors(403)})},
    }


@functools.lru_cache(maxsize=8)
def openapi_text(base_url: str = "/", cookie_name: str = "username") -> str:
    """The document as JSON, built once per base URL and cookie name (pydantic's schemas take
    milliseconds)."""
    return json.dumps(openapi_document(base_url, cookie_name))


def openapi_document(base_url: str = "/", cookie_name: str = "username") -> dict[str, Any]:
    """OpenAPI 3.1 (its schemas are JSON Schema, as pydantic writes them: ``null`` is a type)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyter-svc", "version": __version__,
                 "description": "Services managed from Jupyter. Authenticate as for any Jupyter "
                                "server API (token header, or cookie + X-XSRFToken)."},
        "servers": [{"url": f"{base_url}svc/api"}],
        "paths": _paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": security_schemes(cookie_name),
        },
        "security": READ_SECURITY,
    }
