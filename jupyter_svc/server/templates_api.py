"""GET templates, GET templates/{template}/spec: the templates this server knows (built-ins and
``jupyter_svc.templates`` entry points), and the spec one makes from its parameters, for the lab
panel's template picker. Reading them needs ``read`` on ``svc``, as the schema does."""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupyter_svc.model.errors import FieldError, NotFound, SpecInvalid
from jupyter_svc.model.templates import Param, Template, registry

from .handlers import SvcHandler

#: A template's name in a route (the names the registry holds: letters, digits, - _ .).
TEMPLATE = r"(?P<template>[A-Za-z0-9_.-]+)"
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def template_document(template: Template) -> dict[str, Any]:
    """What the picker shows of a template: its description, parameters, and whether it can run."""
    return {
        "name": template.name,
        "description": template.description,
        "framework": template.framework,
        "available": template.available(),
        "example": template.example,
        "params": [{"name": p.name, "help": p.help, "default": p.default, "required": p.required,
                    "kind": p.kind} for p in template.params],
    }


def _read(param: Param, text: str) -> Any:
    """A query string's value as the parameter's kind; SpecInvalid naming ``params.<name>``."""
    field = f"params.{param.name}"
    if param.kind == "int":
        try:
            return int(text)
        except ValueError:
            raise SpecInvalid("invalid template parameter", [FieldError(field, "must be an integer")]) from None
    if param.kind == "bool":
        if text.lower() not in _TRUE + _FALSE:
            raise SpecInvalid("invalid template parameter", [FieldError(field, "must be true or false")])
        return text.lower() in _TRUE
    if param.kind == "argv":
        try:
            return shlex.split(text)
        except ValueError as exc:
            raise SpecInvalid("invalid template parameter", [FieldError(field, str(exc))]) from None
    return text


def template_spec(template: Template, query: dict[str, str], root_dir: str | None,
                  unix_socket: bool = False) -> dict[str, Any]:
    """The spec (without a name) ``template`` makes of the query's parameters; blank ones take
    their defaults (and a blank unknown one is ignored: JupyterLab adds ``&<time>`` to every GET
    against caches), relative paths are from ``root_dir`` (where services without a cwd run);
    ``unix_socket``: its form on ``{unix_socket}``, if it has one."""
    known = {p.name: p for p in template.params}
    errors = [FieldError(f"params.{k}", f"{template.name} has no parameter {k}")
              for k, v in query.items() if k not in known and v.strip()]
    values = {k: _read(known[k], v) for k, v in query.items() if k in known and v.strip()}
    errors += [FieldError(f"params.{p.name}", f"required: {p.help}") for p in template.params
               if p.required and p.name not in values]
    if errors:
        raise SpecInvalid(f"the {template.name} template cannot make a spec of these parameters", errors)
    try:
        spec = template.spec_dict("-", values, unix_socket=unix_socket, base=root_dir)
    except (ValueError, KeyError, TypeError) as exc:
        raise SpecInvalid("invalid template parameters", [FieldError("params", str(exc))]) from None
    spec.pop("name", None)
    return spec


class TemplatesHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        templates = [template_document(t) for t in registry.all()]
        self.finish(json.dumps({"templates": templates, "problems": registry.problems}))


class TemplateSpecHandler(SvcHandler):
    @web.authenticated
    @authorized
    async def get(self, template: str) -> None:
        try:
            found = registry.get(template)
        except KeyError as exc:
            raise NotFound(str(exc.args[0])) from None
        query = {k: self.get_query_argument(k) for k in self.request.query_arguments}
        root = self.settings.get("server_root_dir")  # "~/..." under the home folder
        # as %svc does: the socket form when the default backend asks templates for sockets
        backend = self.manager.backends.get(self.manager.default_backend)
        spec = template_spec(found, query, os.path.expanduser(str(root)) if root else None,
                             unix_socket=bool(backend and backend.prefers_unix_sockets))
        self.finish(json.dumps({"template": found.name, "spec": spec}))


def template_routes() -> list[tuple[str, type[SvcHandler]]]:
    return [("templates", TemplatesHandler), (f"templates/{TEMPLATE}/spec", TemplateSpecHandler)]
