"""The OpenAPI document's components: schemas as the handlers send them, Jupyter's security schemes,
and the spec's rules across fields that JSON Schema can say (so that a schema-valid request is
not refused for a rule the document kept quiet about)."""

from __future__ import annotations

import copy
from typing import Any

from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.status import ServiceView


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


#: Every error of the API: SvcError's body (message, reason, errors) or Jupyter's own for what it
#: refuses before a handler runs (403 without credentials, 405: ``reason`` null, maybe a traceback).
ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error", "type": "object", "required": ["message"],
    "properties": {
        "message": {"type": "string", "title": "Message", "description": "What went wrong, for people."},
        "reason": {"type": ["string", "null"], "title": "Reason",
                   "description": "The message without the field details; null in Jupyter's own errors."},
        "errors": {"type": "array", "title": "Errors", "description": "One entry per invalid field.",
                   "items": {"type": "object", "required": ["field", "message"], "properties": {
                       "field": {"type": "string", "description": "Dotted path, e.g. resources.limits.cpu"},
                       "message": {"type": "string"}}}},
        "traceback": {"type": "string", "title": "Traceback", "description": "Jupyter's, when it sends one."},
    },
}

_NON_EMPTY_COMMAND = {"required": ["command"], "properties": {"command": {"type": "array", "minItems": 1}}}
_NON_EMPTY_IMAGE = {"required": ["image"], "properties": {"image": {"type": "string", "minLength": 1}}}


def _spec_rules(spec: dict[str, Any]) -> dict[str, Any]:
    """ServiceSpec's checks across fields, exactly as the model enforces them (``_coherent``):
    a command is an argv list of at least one item (without ``shell: true``) or a string (with
    it); a url comes with nothing to run (an empty command or image counts as none), else a
    command or an image is set."""
    nothing = {"anyOf": [{"type": "null"}, {"const": ""}]}
    command_shape = {"anyOf": [
        {"not": {"required": ["command"]}},
        {"required": ["command"], "properties": {"command": {"type": "null"}}},
        {"required": ["command"], "properties": {"command": {"type": "array", "minItems": 1},
                                                 "shell": {"not": {"const": True}}}},
        {"required": ["command", "shell"], "properties": {"command": {"type": "string"}, "shell": {"const": True}}},
    ]}
    runs_something = {"anyOf": [
        {"required": ["url"], "properties": {"url": {"type": "string"}, "command": nothing, "image": nothing}},
        {"required": ["command"], "properties": {"url": {"type": "null"}, "command": {"not": {"type": "null"}}}},
        {"required": ["image"], "properties": {"url": {"type": "null"}, "image": {"type": "string", "minLength": 1}}},
    ]}
    return {**spec, "allOf": [command_shape, runs_something]}


def schemas() -> dict[str, Any]:
    """ServiceSpec, ServiceView and the models inside them, Error, and the apply bodies."""
    defs: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for name, model in (("ServiceSpec", ServiceSpec), ("ServiceView", ServiceView)):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs.update(schema.pop("$defs", {}))
        out[name] = schema
    out["ServiceSpec"] = _spec_rules(out["ServiceSpec"])
    if "Container" in defs:  # a sidecar or init step runs something: a command or an image
        defs["Container"] = {**copy.deepcopy(defs["Container"]), "anyOf": [_NON_EMPTY_COMMAND, _NON_EMPTY_IMAGE]}
    # a merge patch names spec fields only; null removes one. Whether the result is a valid spec
    # depends on the stored one: each value is checked after the merge.
    out["ServicePatch"] = {"type": "object", "additionalProperties": False, "description": "RFC 7396 merge patch",
                           "properties": {name: {} for name in out["ServiceSpec"]["properties"]}}
    out["Error"] = ERROR_SCHEMA
    out["ApplyRequest"] = {"type": "object", "required": ["manifest"], "additionalProperties": False, "properties": {
        "manifest": {"oneOf": [{"type": "object", "properties": {
            "services": {"type": "array", "items": ref("ServiceSpec")}}},
            {"type": "array", "items": ref("ServiceSpec")}]},
        "mode": {"type": "string", "enum": ["merge", "replace"], "default": "merge"},
        "dry_run": {"type": "boolean", "default": False}}}
    out["ApplyResult"] = {"type": "object", "required": ["ok", "dry_run", "results"], "properties": {
        "ok": {"type": "boolean"}, "dry_run": {"type": "boolean"},
        "results": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "message": {"type": "string"},
            "action": {"type": "string", "enum": ["created", "updated", "unchanged", "deleted", "failed"]}}}}}}
    return {**defs, **out}


def security_schemes(cookie_name: str) -> dict[str, Any]:
    """Jupyter's ways in: its token (header or ``?token=``), or its login cookie, with which writes
    also need the XSRF token (header ``X-XSRFToken`` matching the ``_xsrf`` cookie)."""
    return {
        "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                  "description": "`Authorization: token <Jupyter's token>`"},
        "token_query": {"type": "apiKey", "in": "query", "name": "token",
                        "description": "Jupyter's token in the query"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": cookie_name,
                   "description": "Jupyter's login cookie (its name depends on the server's host and port)"},
        "xsrf": {"type": "apiKey", "in": "header", "name": "X-XSRFToken",
                 "description": "With the cookie, writes carry the value of the `_xsrf` cookie here"},
    }


READ_SECURITY: list[dict[str, list[str]]] = [{"token": []}, {"token_query": []}, {"cookie": []}]
WRITE_SECURITY: list[dict[str, list[str]]] = [{"token": []}, {"token_query": []}, {"cookie": [], "xsrf": []}]
