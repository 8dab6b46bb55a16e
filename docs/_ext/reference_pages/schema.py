"""JSON Schema (as pydantic writes it) to Markdown: one field table per model, types in words,
references as links. Shared by the spec page and the REST page's schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .markdown import code, label, table, target, text

#: Model name -> the Markdown link to its section.
Linker = Callable[[str], str]


def ref_name(node: dict[str, Any]) -> str | None:
    ref = node.get("$ref")
    return str(ref).rsplit("/", 1)[-1] if isinstance(ref, str) else None


def resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    name = ref_name(node)
    return defs.get(name, node) if name else node


def is_enum(node: dict[str, Any]) -> bool:
    return "enum" in node and "properties" not in node


def type_words(node: dict[str, Any], defs: dict[str, Any], link: Linker) -> str:
    """``list of Port``, ``map of string to string``, ``duration or null``: a type as people say it."""
    name = ref_name(node)
    if name:
        target_node = defs.get(name, {})
        return type_words(target_node, defs, link) if is_enum(target_node) else link(name)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(type_words(option, defs, link) for option in node[key])
    if is_enum(node):
        return "one of " + ", ".join(code(json.dumps(v)) for v in node["enum"])
    kind = node.get("type")
    if kind == "array":
        return "list of " + type_words(node.get("items", {}), defs, link)
    if kind == "object":
        values = node.get("additionalProperties")
        if isinstance(values, dict):
            return "map of string to " + type_words(values, defs, link)
        properties = node.get("properties")
        if properties:
            fields = ", ".join(f"{code(k)}: {type_words(v, defs, link)}" for k, v in properties.items())
            return f"object ({fields})"
        return "object"
    if kind == "string" and node.get("format"):
        return str(node["format"])
    return str(kind or "any")


def constraints(node: dict[str, Any]) -> list[str]:
    """Limits a value must meet, as short sentences, from the node and its non-null alternatives."""
    out: list[str] = []
    nodes = [node, *(n for k in ("anyOf", "oneOf") for n in node.get(k, ()) if n.get("type") != "null")]
    for item in nodes:
        for inner in (item, item.get("items") or {}):
            phrases = []
            if "pattern" in inner:
                phrases.append(f"matches {code(inner['pattern'])}")
            if "maxLength" in inner:
                phrases.append(f"at most {inner['maxLength']} characters")
            if "minimum" in inner and "maximum" in inner:
                phrases.append(f"from {inner['minimum']} to {inner['maximum']}")
            elif "minimum" in inner:
                phrases.append(f"at least {inner['minimum']}")
            if inner.get("examples"):
                phrases.append("examples: " + ", ".join(code(e) for e in inner["examples"]))
            for phrase in phrases:
                out.append(f"Each item: {phrase}." if inner is not item else f"{phrase[0].upper()}{phrase[1:]}.")
    return out


def default_words(node: dict[str, Any], defs: dict[str, Any], link: Linker) -> str:
    """The default as JSON. Pydantic leaves out the defaults it makes with a factory; a field it
    wrote (it gives each a title) that is neither required nor given a default has one of those:
    an empty list or map, or the nested model's own defaults."""
    if "default" in node:
        return code(json.dumps(node["default"]))
    if "title" not in node and not ref_name(node):
        return ""
    target_node = resolve(node, defs)
    if target_node.get("type") == "array":
        return code("[]")
    if target_node.get("type") == "object" and isinstance(target_node.get("additionalProperties"), dict):
        return code("{}")
    name = ref_name(node)
    if name and "properties" in target_node:
        return f"the defaults of {link(name)}"
    return ""


def field_table(model: dict[str, Any], defs: dict[str, Any], link: Linker) -> str:
    required = set(model.get("required", []))
    rows = []
    for name, node in model.get("properties", {}).items():
        description = text(node.get("description", "")).strip()
        if description and not description.endswith("."):
            description += "."
        notes = [description] if description else []
        notes += constraints(node)
        rows.append([
            code(name) + (" **(required)**" if name in required else ""),
            type_words(node, defs, link),
            "" if name in required else default_words(node, defs, link),
            " ".join(notes),
        ])
    return table(("field", "type", "default", "description"), rows)


def model_section(name: str, model: dict[str, Any], defs: dict[str, Any], link: Linker,
                  label_prefix: str, level: int = 2) -> str:
    """A titled, labelled section: the model's description, then its field table."""
    parts = [target(label(label_prefix, name)), f"{'#' * level} {name}", ""]
    if model.get("description"):
        parts += [text(model["description"]), ""]
    if model.get("additionalProperties") is False:
        parts += ["Unknown fields are refused (a typo is an error, not ignored).", ""]
    parts.append(field_table(model, defs, link))
    return "\n".join(parts)
