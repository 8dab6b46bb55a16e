"""The documentation's generated reference (docs/_ext/reference_pages) covers what the code has:
every REST route and method of the OpenAPI document with its answers, every configuration option,
every spec field, every ``%svc`` subcommand, template and ``jupyter svc`` command. These run the
generators without Sphinx; .ci/run builds the site itself, with warnings as errors."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from jupyter_svc.model.spec import spec_json_schema
from jupyter_svc.server.app import SvcExtension
from jupyter_svc.server.openapi import openapi_document

EXT = Path(__file__).resolve().parent.parent / "docs" / "_ext"


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    sys.path.insert(0, str(EXT))
    try:
        return importlib.import_module("reference_pages")
    finally:
        sys.path.remove(str(EXT))


def markdown(ref: ModuleType) -> ModuleType:
    return importlib.import_module(f"{ref.__name__}.markdown")


def sections(page: str, level: int) -> dict[str, str]:
    """Heading text (backticks removed) -> the text up to the next heading of that level."""
    parts = re.split(rf"^{'#' * level} (.+)$", page, flags=re.MULTILINE)
    return {title.strip("`"): body for title, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_route_and_method_of_the_openapi_document_is_in_the_rest_reference(ref: ModuleType) -> None:
    documented = sections(ref.pages()["rest.md"](), 3)
    paths = openapi_document()["paths"]
    assert len(paths) >= 15
    for path, item in paths.items():
        for method, operation in item.items():
            body = documented.get(f"{method.upper()} {path}")
            assert body is not None, f"{method.upper()} {path} is not in the REST reference"
            assert markdown(ref).text(operation["summary"]) in body
            for status in operation["responses"]:
                assert f"| `{status}` |" in body, f"{method.upper()} {path}: answer {status} is missing"
            for param in operation["parameters"]:
                assert f"| `{param['name']}` |" in body, f"{method.upper()} {path}: ?{param['name']} is missing"


def test_every_link_of_the_reference_pages_has_its_target(ref: ModuleType) -> None:
    pages = ref.pages()
    text = "".join(pages[name]() for name in ("rest.md", "spec.md", "config.md"))
    targets = set(re.findall(r"^\(([-\w]+)\)=$", text, flags=re.MULTILINE))
    links = set(re.findall(r"\{ref\}`[^`<]*<([-\w]+)>`", text))
    assert links, "no cross-references found: the pattern is out of date"
    # the one link to a hand-written page: its label is in docs/reference/spec.md
    assert links - targets == {"spec-reference"}
    assert "(spec-reference)=" in (EXT.parent / "reference" / "spec.md").read_text()


def test_every_option_of_every_configurable_is_in_the_configuration_reference(ref: ModuleType) -> None:
    from reference_pages.config import configurables

    assert SvcExtension in configurables()
    classes = sections(ref.pages()["config.md"](), 2)  # options are per class: two may share a name
    assert set(classes) == {cls.__name__ for cls in configurables()}
    for cls in configurables():
        own = cls.class_own_traits(config=True)
        documented = sections(classes[cls.__name__], 3)
        for name, trait in own.items():
            body = documented.get(name)
            assert body is not None, f"{cls.__name__}.{name} is not in the configuration reference"
            first_words = " ".join(trait.help.split()[:3])
            assert markdown(ref).text(first_words) in body
            assert f"c.{cls.__name__}.{name} = ..." in body
        assert len(documented) == len(own), f"{cls.__name__}: options documented that it does not have"


def test_every_field_of_the_spec_and_its_models_is_in_the_spec_reference(ref: ModuleType) -> None:
    schema = spec_json_schema()
    documented = sections(ref.pages()["spec.md"](), 3)
    models = {"ServiceSpec": schema, **{name: node for name, node in schema["$defs"].items() if "properties" in node}}
    assert set(documented) == set(models)
    for name, model in models.items():
        for field in model["properties"]:
            assert f"| `{field}`" in documented[name], f"{name}.{field} is not in the spec reference"


def test_every_subcommand_template_and_cli_command_is_documented(ref: ModuleType) -> None:
    from jupyter_svc.notebook.magic_args import COMMANDS
    from jupyter_svc.notebook.templates import builtin_templates

    pages = ref.pages()
    magics, templates, cli = pages["magics.md"](), pages["templates.md"](), pages["cli.md"]()
    for command in COMMANDS:
        assert f"#### `%svc {command}`" in magics
        assert f"usage: %svc {command}" in magics
    for template in builtin_templates():
        assert f"| `{template.name}` |" in templates
    for command in ("list", "get", "apply", "delete", "restart", "wake", "stop", "enable", "disable", "scale",
                    "logs", "rbac"):
        assert f"usage: jupyter svc {command}" in cli


def test_text_from_the_code_is_escaped_not_read_as_markdown(ref: ModuleType) -> None:
    text = markdown(ref).text
    assert text("strip /svc/<name> | SVC_<NAME>_URL *x*") == r"strip /svc/\<name\> \| SVC\_\<NAME\>\_URL \*x\*"
    assert text("two\n  lines") == "two lines"
    assert markdown(ref).code("a|b") == r"`a\|b`"


def test_pages_are_rewritten_only_when_their_text_changes(ref: ModuleType, tmp_path: Path) -> None:
    """An unchanged build stays incremental: Sphinx re-reads a page when an included file changes."""
    written = ref.write_pages(tmp_path)
    assert sorted(p.name for p in written) == sorted(ref.pages())
    assert ref.write_pages(tmp_path) == []
    first = written[0]
    first.write_text("stale")
    assert ref.write_pages(tmp_path) == [first]
