"""One rule, every reader: the service-name rule and the quantity pattern mean the same to the spec's
validators, to its JSON Schema (read by Python's `re`, by a JSON Schema validator, and by the
browser's ECMA-262 regexes, which the lab panel's form uses) and to the URL routes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from tornado.routing import PathMatches

from jupyter_svc.model.errors import from_validation_error
from jupyter_svc.model.spec import ServiceSpec, spec_json_schema
from jupyter_svc.model.units import parse_quantity
from jupyter_svc.proxy.routes import proxy_routes
from jupyter_svc.server.handlers import NAME
from jupyter_svc.server.openapi import openapi_document

GOOD_NAMES = ["a", "0", "web", "my-app-2", "a" * 63, "api-v2", "apis", "static1", "9lives"]
RESERVED = ["api", "static"]
ARABIC_ONE = "\u0661"  # a digit to Python's `\d` and `int()`, not to ECMA-262 or Kubernetes
MISSHAPEN_NAMES = ["", "A", "Web", "a_b", "a.b", "-a", "a-", "a" * 64, "a\n", "\na", "é", "a b", "a/b", ARABIC_ONE]

GOOD_QUANTITIES = ["0", "1", "+1", "0.5", ".5", "1.", "100m", "3n", "7u", "2k", "2M", "1G", "1T", "1P", "1E",
                   "512Mi", "1.2Gi", "1Ki", "1Ti", "1Pi", "1Ei", "1e3", "1E3", "1e-3", "2.5e+2"]
BAD_QUANTITIES = ["", " 1", "1 ", "1\n", "-1", "-0", "lots", "1.2.3", "10 Gi", "1GB", "1e", "1Ki2", "Gi", ".",
                  "1mi", "1KI", "1e1.5", "0x10", ARABIC_ONE, "1,5", "++1"]

SCHEMA = spec_json_schema()
VALIDATOR = Draft202012Validator(SCHEMA)
NAME_SCHEMA = SCHEMA["properties"]["name"]
QUANTITY_SCHEMA = SCHEMA["$defs"]["ResourceAmounts"]["properties"]["cpu"]["anyOf"][0]


def model_accepts(spec: dict[str, Any], field: str) -> bool:
    try:
        ServiceSpec.model_validate(spec)
    except ValidationError as exc:
        fields = {e.field for e in from_validation_error(exc)}
        assert fields == {field}, fields  # refused for this field, not for anything else
        return False
    return True


def schema_accepts(spec: dict[str, Any]) -> bool:
    return VALIDATOR.is_valid(spec)


def name_schema_accepts_with_re(name: str) -> bool:
    return (re.search(NAME_SCHEMA["pattern"], name) is not None and len(name) <= NAME_SCHEMA["maxLength"]
            and name not in NAME_SCHEMA["not"]["enum"])


def proxy_route_name(name: str) -> str | None:
    """The service a request for ``svc/<name>/x`` reaches, as tornado matches the proxy's route."""
    (pattern,) = [p for p, handler in proxy_routes() if p.endswith("(?P<path>/.*)")]
    match = PathMatches(pattern).regex.match(f"/svc/{name}/x")
    return match.group("name") if match else None


def api_route_name(name: str) -> str | None:
    match = PathMatches(rf"/svc/api/services/{NAME}").regex.match(f"/svc/api/services/{name}")
    return match.group("name") if match else None


def openapi_name_pattern() -> str:
    (param,) = [p for p in openapi_document()["paths"]["/services/{name}"]["get"]["parameters"] if p["name"] == "name"]
    return str(param["schema"]["pattern"])


@pytest.mark.parametrize("name", GOOD_NAMES + RESERVED + MISSHAPEN_NAMES)
def test_every_reader_of_the_name_rule_agrees(name: str) -> None:
    allowed = name in GOOD_NAMES
    spec = {"name": name, "command": ["x"]}
    assert model_accepts(spec, "name") is allowed
    assert schema_accepts(spec) is allowed
    assert name_schema_accepts_with_re(name) is allowed
    assert (proxy_route_name(name) == name) is allowed  # svc/api/... is the REST API, never a service
    # the REST API's routes take reserved names too: the handler then says why (404, or 422 on PUT)
    assert (api_route_name(name) == name) is (name in GOOD_NAMES + RESERVED)
    assert (re.search(openapi_name_pattern(), name) is not None) is (name in GOOD_NAMES + RESERVED)


@pytest.mark.parametrize("text", GOOD_QUANTITIES + BAD_QUANTITIES)
def test_every_reader_of_the_quantity_pattern_agrees(text: str) -> None:
    good = text in GOOD_QUANTITIES
    try:
        parse_quantity(text)
        parsed = True
    except ValueError:
        parsed = False
    assert parsed is good
    spec = {"name": "q", "command": ["x"], "resources": {"limits": {"cpu": text}}}
    assert model_accepts(spec, "resources.limits.cpu") is good
    assert schema_accepts(spec) is good
    assert (re.search(QUANTITY_SCHEMA["pattern"], text) is not None) is good


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run ECMA-262 regexes")
def test_the_browser_reads_the_patterns_alike() -> None:
    """ajv (the lab panel's form validator) compiles schema patterns as ``new RegExp(p, "u")``."""
    cases = [(NAME_SCHEMA["pattern"], name, name in GOOD_NAMES + RESERVED) for name in GOOD_NAMES + RESERVED
             + [n for n in MISSHAPEN_NAMES if len(n) <= 63]]  # the pattern alone; maxLength and `not` aside
    cases += [(QUANTITY_SCHEMA["pattern"], text, text in GOOD_QUANTITIES) for text in GOOD_QUANTITIES + BAD_QUANTITIES]
    script = ("const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(cases.map(([p, s]) => new RegExp(p, 'u').test(s))));")
    done = subprocess.run(["node", "-e", script], input=json.dumps([[p, s] for p, s, _ in cases]),
                          capture_output=True, text=True, timeout=60, check=True)
    answers = json.loads(done.stdout)
    wrong = [(s, expected) for (_, s, expected), got in zip(cases, answers, strict=True) if got is not expected]
    assert not wrong, wrong


def test_lab_panel_types_come_from_the_current_schema() -> None:
    """The panel's TypeScript types and form tests are generated from this schema
    (``cd labextension && jlpm generate:types``); .ci/run fails on drift, this says so sooner."""
    copy = Path(__file__).parent.parent / "labextension" / "src" / "generated" / "service-spec.schema.json"
    assert json.loads(copy.read_text()) == SCHEMA
