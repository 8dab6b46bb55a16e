"""The service spec page's reference part, from ``spec_json_schema()``: every field of
``ServiceSpec`` and of each nested model, with type, default, description and limits."""

from __future__ import annotations

from jupyter_svc.model.spec import spec_json_schema
from jupyter_svc.model.units import IDLE_PRESETS

from .markdown import code, label, ref, table
from .schema import Linker, is_enum, model_section

LABEL_PREFIX = "spec"


def spec_linker() -> Linker:
    return lambda name: ref(name, label(LABEL_PREFIX, name))


def spec_models() -> list[str]:
    """Names of the models the spec page documents (enums are spelled out where they are used)."""
    defs = spec_json_schema().get("$defs", {})
    return ["ServiceSpec", *(name for name, node in defs.items() if not is_enum(node))]


def spec_markdown() -> str:
    schema = spec_json_schema()
    defs = schema.get("$defs", {})
    link = spec_linker()
    sections = [model_section("ServiceSpec", schema, defs, link, LABEL_PREFIX, level=3)]
    sections += [model_section(name, defs[name], defs, link, LABEL_PREFIX, level=3) for name in spec_models()[1:]]
    return "\n\n".join(sections) + "\n"


def presets_markdown() -> str:
    """The named idle windows a duration may also be, grouped by length."""
    names: dict[float, list[str]] = {}
    for name, seconds in IDLE_PRESETS.items():
        names.setdefault(seconds, []).append(code(name))
    rows = [[code(f"{seconds:g}"), ", ".join(group)] for seconds, group in sorted(names.items())]
    return table(("seconds", "names"), rows) + "\n"
