"""The REST reference, from the OpenAPI document the server itself serves (``openapi_document()``):
every path and method with its parameters, body and answers, then the schemas it names."""

from __future__ import annotations

from typing import Any

from jupyter_svc.server.openapi import openapi_document

from .markdown import code, label, ref, table, target, text
from .schema import Linker, is_enum, model_section, type_words
from .spec import spec_linker, spec_models

LABEL_PREFIX = "rest-schema"
METHODS = ("get", "put", "post", "patch", "delete")


def operation_label(method: str, path: str) -> str:
    return label("rest", method, path.replace("{", "").replace("}", ""))


def rest_linker() -> Linker:
    """ServiceSpec and its parts link to the spec page; the API's own models to this page."""
    on_spec_page = set(spec_models())
    to_spec = spec_linker()
    return lambda name: to_spec(name) if name in on_spec_page else ref(name, label(LABEL_PREFIX, name))


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path, operation) in the document's order."""
    return [(method.upper(), path, item[method])
            for path, item in document["paths"].items() for method in METHODS if method in item]


def _bodies(content: dict[str, Any], defs: dict[str, Any], link: Linker) -> str:
    return "; ".join(f"{code(media)}: {type_words(c.get('schema', {}), defs, link)}" for media, c in content.items())


def _operation(method: str, path: str, op: dict[str, Any], defs: dict[str, Any], link: Linker) -> str:
    parts = [target(operation_label(method, path)), f"### {code(f'{method} {path}')}", "", text(op["summary"]), ""]
    params = op.get("parameters") or []
    if params:
        rows = [[code(p["name"]), p["in"], type_words(p.get("schema", {}), defs, link)
                 + (f" (default {code(p['schema']['default'])})" if "default" in p.get("schema", {}) else ""),
                 "yes" if p.get("required") else "no", text(p.get("description", ""))] for p in params]
        parts += ["**Parameters**", "", table(("name", "in", "type", "required", "description"), rows), ""]
    body = op.get("requestBody")
    if body:
        parts += [f"**Request body**: {_bodies(body['content'], defs, link)}", ""]
    rows = [[code(status), text(answer.get("description", "")), _bodies(answer.get("content", {}), defs, link)]
            for status, answer in op["responses"].items()]
    parts += ["**Responses**", "", table(("status", "meaning", "body"), rows)]
    return "\n".join(parts)


def rest_markdown() -> str:
    document = openapi_document("{base_url}")
    defs = document["components"]["schemas"]
    link = rest_linker()
    prefix = document["servers"][0]["url"]
    parts = [f"Every path below is relative to {code(prefix)} ({code('/svc/api')} with Jupyter's default "
             f"base URL). {text(document['info']['description'])}", "", "## Routes", ""]
    parts += [_operation(method, path, op, defs, link) + "\n" for method, path, op in operations(document)]
    parts += ["## Schemas", "",
              f"{ref('ServiceSpec', label('spec', 'ServiceSpec'))} and the models inside it are on the "
              f"{ref('service spec page', 'spec-reference')}.", ""]
    on_spec_page = set(spec_models())
    for name, model in defs.items():
        if name not in on_spec_page and not is_enum(model):
            parts += [model_section(name, model, defs, link, LABEL_PREFIX, level=3), ""]
    return "\n".join(parts)
