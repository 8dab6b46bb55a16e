"""The OpenAPI 3 document of the REST API; a test keeps it true to `handlers.api_routes()`."""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel

from jupyter_svc._version import __version__
from jupyter_svc.model.names import NAME_PATTERN
from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceView

# the routes take reserved names too (the handlers then say why): the pattern alone, as they match
_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "pattern": NAME_PATTERN}}
_WAIT = {"name": "wait", "in": "query", "required": False, "schema": {"type": "number"},
         "description": "Answer once the service settles, waiting at most this many seconds."}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {str(code): _json(_ref("Error"), text) for code, text in (
    (400, "Malformed request"), (403, "Not authenticated or not authorized"), (404, "No such service"),
    (409, "Conflict with the current state, or a name whose stored file was set aside (the message says where)"),
    (422, "Invalid spec: errors name each field"),
    (500, "The change could not be stored (the message names the path and errno); nothing changed"),
    (503, "Unavailable: another server holds the state folder (the message names it), or the service cannot serve"),
    (507, "The disk is full: the change was not stored; nothing changed"))}
_VIEW_WRITE = {"200": _json(_ref("ServiceView"), "Settled (with ?wait)"),
               "202": _json(_ref("ServiceView"), "Accepted; follow status.state"), **_ERRORS}


def _op(summary: str, responses: dict[str, Any], params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, "parameters": params or []}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


def _action(summary: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"post": _op(summary, _VIEW_WRITE, [_NAME, _WAIT], body)}


def _paths() -> dict[str, dict[str, Any]]:
    return {
        "/services": {
            "get": _op("List services", {"200": _json({"type": "object", "properties": {
                "services": {"type": "array", "items": _ref("ServiceView")}}})}),
            "post": _op("Create a service", {"201": _json(_ref("ServiceView"), "Created"), **_ERRORS},
                        [_WAIT], _ref("ServiceSpec")),
        },
        "/services/{name}": {
            "get": _op("One service", {"200": _json(_ref("ServiceView")), **_ERRORS}, [_NAME]),
            "put": _op("Create or update", {**_VIEW_WRITE, "201": _json(_ref("ServiceView"), "Created")},
                       [_NAME, _WAIT], _ref("ServiceSpec")),
            "patch": _op("JSON merge patch of the spec", _VIEW_WRITE, [_NAME, _WAIT], {"type": "object"}),
            "delete": _op("Stop and delete", {"204": {"description": "Deleted"}, **_ERRORS}, [_NAME]),
        },
        "/services/{name}/restart": _action("Restart"),
        "/services/{name}/enable": _action("Set desired_state ready"),
        "/services/{name}/disable": _action("Set desired_state disabled; stops it"),
        "/services/{name}/wake": _action("Start a service that is at zero, without changing its spec"),
        "/services/{name}/scale": _action("Scale; 0 scales to zero", {
            "type": "object", "required": ["replicas"],
            "properties": {"replicas": {"type": "integer", "minimum": 0}}}),
        "/services/{name}/logs": {"get": _op("Output of the service", {
            "200": {"description": "Lines of text", "content": {"text/plain": {"schema": {"type": "string"}}}},
            **_ERRORS}, [_NAME,
            {"name": "tail", "in": "query", "schema": {"type": "integer", "default": 100}},
            {"name": "follow", "in": "query", "schema": {"type": "boolean"},
             "description": "Keep the response open and stream new lines."},
            {"name": "container", "in": "query", "schema": {"type": "string"},
             "description": "One of the service's containers (a sidecar, an init step) on a backend that "
                            "runs several; others answer 422."}])},
        "/services/{name}/activity": {"post": _op(
            "Mark the service busy (work without traffic), postponing its scale to zero",
            {"200": _json(_ref("ServiceView")), **_ERRORS}, [_NAME])},
        "/activity": {"get": _op("The server's idleness: kernels, terminals, API, services (not itself activity)",
                                 {"200": _json({"type": "object"})})},
        "/metrics": {"get": _op("Prometheus metrics", {"200": {
            "description": "text exposition format", "content": {"text/plain": {"schema": {"type": "string"}}}}})},
        "/events": {"get": _op("Server-sent events: 'service' (a ServiceView) and 'deleted' ({name})", {
            "200": {"description": "text/event-stream",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}}})},
        "/apply": {"post": _op("Apply a manifest (validated whole first)", {
            "200": _json(_ref("ApplyResult")), **_ERRORS}, [_WAIT], _ref("ApplyRequest"))},
        "/schema": {"get": _op("JSON Schema of ServiceSpec", {"200": _json({"type": "object"})})},
        "/backends": {"get": _op("The backends, the default one, and the spec fields each cannot honour", {
            "200": _json({"type": "object", "properties": {
                "default": {"type": "string"},
                "backends": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"},
                    "unsupported": {"type": "array", "items": {"type": "string"}},
                    "unix_sockets": {"type": "boolean", "description": "templates listen on {unix_socket}"},
                }}}}})})},
        "/templates": {"get": _op("The templates: name, description, parameters, whether its framework is here", {
            "200": _json({"type": "object", "properties": {
                "templates": {"type": "array", "items": {"type": "object"}},
                "problems": {"type": "array", "items": {"type": "string"}}}})})},
        "/templates/{template}/spec": {"get": _op(
            "The spec (without a name) a template makes; each query argument is one of its parameters",
            {"200": _json({"type": "object", "properties": {"template": {"type": "string"},
                                                            "spec": {"type": "object"}}}), **_ERRORS},
            [{"name": "template", "in": "path", "required": True, "schema": {"type": "string"}}])},
        "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"})})},
    }


class _Error(BaseModel):
    message: str
    reason: str
    errors: list[dict[str, str]]


def _schemas() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for name, model in (("ServiceSpec", ServiceSpec), ("ServiceView", ServiceView), ("Error", _Error)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        out[name] = schema
    out["ApplyRequest"] = {"type": "object", "required": ["manifest"], "properties": {
        "manifest": {"oneOf": [{"type": "object", "properties": {
            "services": {"type": "array", "items": _ref("ServiceSpec")}}},
            {"type": "array", "items": _ref("ServiceSpec")}]},
        "mode": {"type": "string", "enum": ["merge", "replace"], "default": "merge"},
        "dry_run": {"type": "boolean", "default": False}}}
    out["ApplyResult"] = {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "dry_run": {"type": "boolean"},
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "message": {"type": "string"},
            "action": {"type": "string", "enum": ["created", "updated", "unchanged", "deleted", "failed"]}}}}}}
    return {**defs, **out}


@functools.lru_cache(maxsize=8)
def openapi_text(base_url: str = "/") -> str:
    """The document as JSON, built once per base URL (pydantic's schemas take milliseconds)."""
    return json.dumps(openapi_document(base_url))


def openapi_document(base_url: str = "/") -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "jupyter-svc", "version": __version__,
                 "description": "Services managed from Jupyter. Authenticate as for any Jupyter "
                                "server API (token header, or cookie + X-XSRFToken)."},
        "servers": [{"url": f"{base_url}svc/api"}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "security": [{"token": []}],
    }
