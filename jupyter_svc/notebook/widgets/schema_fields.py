"""JSON Schema -> ipywidgets, generically: one widget kind per schema shape, none per field.

Shapes: strings (durations and quantities are strings with a format or pattern), numbers,
booleans, enums, nested objects, string maps (key/value rows), lists of strings (shell-quoted text)
and lists of objects (rows of nested forms). Each :class:`Field` knows its dotted path, reads and
writes JSON values and shows an inline error.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

import ipywidgets as w

from jupyter_svc.model.units import parse_duration

UNSET: Any = object()
LABEL = w.Layout(width="150px")


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and drop the ``null`` branch of ``anyOf`` (optional fields)."""
    while "$ref" in node:
        node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[-1]],
                **{k: v for k, v in node.items() if k != "$ref"}}
    if "anyOf" in node:
        branches = [b for b in node["anyOf"] if b.get("type") != "null"]
        if len(branches) == 1:
            return {**resolve(schema, branches[0]), **{k: v for k, v in node.items() if k != "anyOf"},
                    "nullable": True}
        types = [resolve(schema, b).get("type") for b in branches]
        if "array" in types and "string" in types:  # e.g. command: argv list or a shell string
            return {**node, "type": "array", "items": {"type": "string"}, "nullable": True}
    return node


class Field:
    """One schema node as a widget; ``value`` is JSON, :data:`UNSET` when left empty."""

    def __init__(self, path: str, title: str, node: dict[str, Any], required: bool = False) -> None:
        self.path, self.node, self.required = path, node, required
        self.error = w.HTML(layout=w.Layout(margin="0 0 0 154px"))
        self.input = self._make(node)
        self.input.description_tooltip = node.get("description", "")
        label = w.Label(title + (" *" if required else ""), layout=LABEL, tooltip=node.get("description", ""))
        self.widget: w.Widget = w.VBox([w.HBox([label, self.input]), self.error])
        self.set(node.get("default", UNSET))

    def _make(self, node: dict[str, Any]) -> w.Widget:
        kind = node.get("type")
        examples = node.get("examples") or []
        hint = f"e.g. {examples[0]}" if examples else node.get("description", "")[:60]
        if "enum" in node:
            return w.Dropdown(options=[""] * (not self.required) + list(node["enum"]))
        if kind == "boolean":
            return w.Checkbox(indent=False)
        if kind in ("integer", "number"):
            return w.Text(placeholder=hint or kind)  # text, so "unset" is representable
        if kind == "array":
            return w.Text(placeholder="words, shell-quoted: python -m app {port}", layout=w.Layout(width="60%"))
        return w.Text(placeholder=hint, layout=w.Layout(width="60%"))

    @property
    def value(self) -> Any:
        """JSON value, :data:`UNSET` when empty or equal to the default (a PUT restores defaults)."""
        value = self._read()
        default = self.node.get("default", UNSET)
        if value == default or (isinstance(value, str) and value == str(default)):
            return UNSET
        if self.node.get("format") == "duration" and default not in (UNSET, None):
            try:
                return UNSET if parse_duration(value) == parse_duration(default) else value
            except ValueError:
                return value
        return value

    def _read(self) -> Any:
        raw = self.input.value
        kind = self.node.get("type")
        if isinstance(self.input, w.Checkbox):
            return bool(raw)
        if raw in ("", None):
            return UNSET
        if kind == "integer":
            try:
                return int(raw)
            except ValueError:
                return raw  # let the server say what is wrong, next to this field
        if kind == "number":
            try:
                return float(raw)
            except ValueError:
                return raw
        if kind == "array":
            try:
                return shlex.split(raw)
            except ValueError:
                return raw
        return raw

    def set(self, value: Any) -> None:
        if value is UNSET or value is None:
            self.input.value = False if isinstance(self.input, w.Checkbox) else ""
        elif isinstance(self.input, w.Checkbox):
            self.input.value = bool(value)
        elif isinstance(value, list):
            self.input.value = " ".join(shlex.quote(str(v)) for v in value)
        else:
            self.input.value = str(value)

    def show_error(self, message: str) -> None:
        self.error.value = f"<span style='color:#c62828'>{message}</span>" if message else ""

    def fields(self) -> list[Field]:
        return [self]


class MapField(Field):
    """A string -> string map (env, labels) as key/value rows with add and remove buttons."""

    def __init__(self, path: str, title: str, node: dict[str, Any], required: bool = False) -> None:
        self.path, self.node, self.required = path, node, required
        self.rows = w.VBox()
        self.error = w.HTML()
        add = w.Button(description="add", icon="plus", layout=w.Layout(width="80px"))
        add.on_click(lambda _: self._add_row("", ""))
        self.widget = w.VBox([w.HBox([w.Label(title, layout=LABEL), add]), self.rows, self.error])

    def _add_row(self, key: str, value: str) -> None:
        k, v = w.Text(key, placeholder="key"), w.Text(value, placeholder="value")
        remove = w.Button(icon="trash", layout=w.Layout(width="40px"))
        row = w.HBox([w.Label("", layout=LABEL), k, v, remove])
        remove.on_click(lambda _: setattr(self.rows, "children", [r for r in self.rows.children if r is not row]))
        self.rows.children = [*self.rows.children, row]

    @property
    def value(self) -> Any:
        out = {r.children[1].value: r.children[2].value for r in self.rows.children if r.children[1].value}
        return out or UNSET

    def set(self, value: Any) -> None:
        self.rows.children = []
        for key, item in (value or {}).items() if isinstance(value, dict) else []:
            self._add_row(str(key), str(item))


class ObjectField(Field):
    """A nested model: its fields, titled, indented."""

    def __init__(self, schema: dict[str, Any], path: str, title: str, node: dict[str, Any]) -> None:
        self.path, self.node, self.required = path, node, False
        self.children = build_fields(schema, node, path)
        self.error = w.HTML()
        inner = w.VBox([f.widget for f in self.children], layout=w.Layout(margin="0 0 0 16px"))
        self.widget = w.VBox([w.HTML(f"<b>{title}</b>"), self.error, inner])

    @property
    def value(self) -> Any:
        out = {f.path.rsplit(".", 1)[-1]: f.value for f in self.children}
        out = {k: v for k, v in out.items() if v is not UNSET}
        return out or UNSET

    def set(self, value: Any) -> None:
        data = value if isinstance(value, dict) else {}
        for f in self.children:
            f.set(data.get(f.path.rsplit(".", 1)[-1], f.node.get("default", UNSET)))

    def fields(self) -> list[Field]:
        return [self, *(g for f in self.children for g in f.fields())]


class ListField(Field):
    """A list of objects (volumes, ports, sidecars): one nested form per item."""

    def __init__(self, schema: dict[str, Any], path: str, title: str, node: dict[str, Any]) -> None:
        self.path, self.node, self.required, self.schema = path, node, False, schema
        self.item = resolve(schema, node["items"])
        self.items: list[ObjectField] = []
        self.box = w.VBox(layout=w.Layout(margin="0 0 0 16px"))
        self.error = w.HTML()
        add = w.Button(description="add", icon="plus", layout=w.Layout(width="80px"))
        add.on_click(lambda _: self.append())
        self.widget = w.VBox([w.HBox([w.Label(title, layout=LABEL), add]), self.error, self.box])

    def append(self, value: Any = UNSET) -> ObjectField:
        item = ObjectField(self.schema, f"{self.path}[{len(self.items)}]", f"#{len(self.items) + 1}", self.item)
        if value is not UNSET:
            item.set(value)
        self.items.append(item)
        remove = w.Button(description="remove", icon="trash", layout=w.Layout(width="100px"))
        remove.on_click(lambda _: self._remove(item))
        self.box.children = [*self.box.children, w.VBox([item.widget, remove])]
        return item

    def _remove(self, item: ObjectField) -> None:
        values = [i.value for i in self.items if i is not item]
        self.set(values)

    @property
    def value(self) -> Any:
        values = [i.value for i in self.items]
        return [v if v is not UNSET else {} for v in values] or UNSET

    def set(self, value: Any) -> None:
        self.items, self.box.children = [], []
        for item in value if isinstance(value, list) else []:
            self.append(item)

    def fields(self) -> list[Field]:
        return [self, *(g for i in self.items for g in i.fields())]


def make_field(schema: dict[str, Any], path: str, key: str, raw: dict[str, Any], required: bool) -> Field:
    node = resolve(schema, raw)
    title = node.get("title") or key.replace("_", " ")
    if node.get("type") == "object" and "properties" in node:
        return ObjectField(schema, path, title, node)
    if node.get("type") == "object":
        return MapField(path, title, node, required)
    if node.get("type") == "array" and resolve(schema, node.get("items", {})).get("type") == "object":
        return ListField(schema, path, title, node)
    return Field(path, title, node, required)


def build_fields(schema: dict[str, Any], node: dict[str, Any], prefix: str = "",
                 keep: Callable[[str], bool] = lambda key: True) -> list[Field]:
    required = set(node.get("required", []))
    return [make_field(schema, f"{prefix}.{key}" if prefix else key, key, raw, key in required)
            for key, raw in node.get("properties", {}).items() if keep(key)]
