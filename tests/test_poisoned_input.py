"""Issue 14, part 2: input that once broke the API for everyone. Each is a 422 naming the field
(never a 500, never stored); bodies are bounded in size and nesting; manifests' YAML refuses an
alias bomb; and no spec the API accepts can make the list or the events stream fail."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from jupyter_svc.model.manifest_yaml import ManifestTooLarge, safe_load
from jupyter_svc.notebook.magic_args import UsageError, load_manifest

CMD = ["python", "-V"]
POISON = [
    ({"scale_to_zero": math.inf}, "scale_to_zero", "finite"),  # sent as the JSON extension Infinity
    ({"scale_to_zero": "nan"}, "scale_to_zero", "finite"),
    ({"scale_to_zero": "1e400"}, "scale_to_zero", "finite"),
    ({"scale_to_zero": "400d"}, "scale_to_zero", "longer than a year"),
    ({"readiness": {"timeout": -math.inf}}, "readiness.timeout", "finite"),
    ({"description": "caf\ud800"}, "description", "lone surrogate"),
    ({"annotations": {"note": "\udfff"}}, "annotations.note", "lone surrogate"),
    ({"env": {"TOKEN": "a\x00b"}}, "env.TOKEN", "NUL"),
    ({"command": ["python", "-c\x00"]}, "command[1]", "NUL"),
    ({"cwd": "/tmp/\x00x"}, "cwd", "NUL"),
    ({"env": {"A\n": "b"}}, "env.A\n", "environment variable name"),
    ({"readiness": {"path": "/health HTTP/1.1\r\nX-Injected: 1"}}, "readiness.path", "visible ASCII"),
    ({"readiness": {"path": "/caf\u00e9"}}, "readiness.path", "visible ASCII"),
    ({"labels": {"team": "ml\nX-Injected: 1"}}, "labels.team", "control character"),
    ({"image": "repo/app:1\r\n"}, "image", "control character"),
    ({"init": [{"name": "step", "command": ["x\x00"]}]}, "init[0].command[0]", "NUL"),
    ({"command": None, "url": "http://example.org/\r\nX-Injected: 1"}, "url", "visible ASCII"),
    ({"command": None, "url": "http://user:secret@example.org/"}, "url", "credentials"),
    ({"command": None, "url": "http://example.org:99999/"}, "url", "port"),
]


@pytest.mark.parametrize(("fields", "field", "reason"), POISON, ids=[p[1] + "-" + p[2] for p in POISON])
async def test_poisoned_fields_are_a_422_naming_the_field(api, fields, field, reason):
    spec = {"name": "poison", "command": CMD, "desired_state": "disabled", **fields}
    code, body = await api("POST", "services", {k: v for k, v in spec.items() if v is not None})
    assert code == 422, body
    assert any(e["field"] == field and reason in e["message"] for e in body["errors"]), body["errors"]
    code, listing = await api("GET", "services")
    assert code == 200 and listing["services"] == []  # never stored
    code, _ = await api("POST", "services", {"name": "fine", "command": CMD, "desired_state": "disabled"})
    assert code == 201  # and the API goes on as before
    code, body = await api("PATCH", "services/fine", fields if "url" not in fields else {"description": "\ud800"})
    assert code == 422, body
    code, view = await api("GET", "services/fine")
    assert code == 200 and view["spec"]["description"] == ""


@pytest.mark.parametrize("svc_config", [{"api_max_body_size": 20_000}])
async def test_bodies_are_bounded_in_size_and_nesting(api, jp_fetch, svc_config):
    async def post(body: bytes) -> tuple[int, dict[str, Any]]:
        response = await jp_fetch("svc", "api", "services", method="POST", body=body, raise_error=False)
        return response.code, json.loads(response.body)

    big = json.dumps({"name": "big", "command": CMD, "description": "x" * 50_000}).encode()
    code, body = await post(big)
    assert code == 413 and "api_max_body_size" in body["message"], body
    code, body = await post(b"[" * 5_000 + b"]" * 5_000)  # past the parser's own recursion limit
    assert code == 400 and "nests deeper" in body["message"], body
    nested: Any = "x"
    for _ in range(40):
        nested = {"a": nested}
    code, body = await post(json.dumps({"name": "deep", "command": CMD, "annotations": nested}).encode())
    assert code == 400 and "nests deeper" in body["message"], body
    code, listing = await api("GET", "services")
    assert code == 200 and listing["services"] == []
    code, _ = await api("POST", "services", {"name": "small", "command": CMD, "desired_state": "disabled"})
    assert code == 201


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "\n".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)) + "\n"


def test_yaml_manifests_refuse_an_alias_bomb():
    with pytest.raises(ManifestTooLarge, match="alias bomb"):
        safe_load(BOMB)  # 9**9 values once spelled out
    with pytest.raises(ManifestTooLarge, match="aliases"):
        safe_load("a: &a x\nb: [" + ", ".join(["*a"] * 1001) + "]\n")
    with pytest.raises(UsageError, match="alias bomb"):
        load_manifest(BOMB, "bomb.yaml")
    shared = safe_load("env: &env {A: '1'}\nservices:\n - {name: a, env: *env}\n - {name: b, env: *env}\n")
    assert shared["services"][1]["env"] == {"A": "1"}  # anchors and aliases as such are fine


# ------------------------------------------------------------------ no accepted spec breaks the API
_ANY_CHAR = st.characters(exclude_categories=())  # surrogates, NUL and control characters too
_TEXT = st.text(_ANY_CHAR, max_size=8) | st.sampled_from(["\ud800", "a\x00", "\r\n", "Infinity", "/x y", ""])
_DURATION = (st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10**12)
             | st.sampled_from(["nan", "1e400", "5m", "never", "-1", "1h30m"]) | _TEXT)
_SPECS = st.fixed_dictionaries(
    {"command": st.lists(_TEXT, min_size=1, max_size=3)},
    optional={
        "description": _TEXT, "icon": _TEXT, "cwd": _TEXT, "image": _TEXT,
        "labels": st.dictionaries(st.sampled_from(["team", "x.io/k", "A\n"]), _TEXT, max_size=2),
        "annotations": st.dictionaries(_TEXT, _TEXT, max_size=2),
        "env": st.dictionaries(st.sampled_from(["A", "B_1", "C\x00"]), _TEXT, max_size=2),
        "scale_to_zero": _DURATION,
        "readiness": st.fixed_dictionaries({}, optional={"path": _TEXT, "timeout": _DURATION, "interval": _DURATION}),
        "sidecars": st.lists(st.fixed_dictionaries({"name": st.just("side"), "command": st.lists(_TEXT, min_size=1,
                                                                                                   max_size=2)}),
                             max_size=1),
    },
)


def _examples(count: int) -> list[dict[str, Any]]:
    """Specs drawn by hypothesis (derandomized: the same each run), posted by the async test below."""
    drawn: list[dict[str, Any]] = []

    @settings(max_examples=count, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(_SPECS)
    def collect(spec: dict[str, Any]) -> None:
        drawn.append(spec)

    collect()
    return drawn


async def test_no_accepted_spec_breaks_the_list_or_the_events(api, jp_fetch):
    accepted: list[str] = []
    for i, fields in enumerate(_examples(60)):
        name = f"fuzz{i}"
        code, body = await api("POST", "services", {**fields, "name": name, "desired_state": "disabled"})
        assert code in (201, 422), (fields, code, body)  # never a 500
        if code == 201:
            accepted.append(name)
            code, view = await api("GET", f"services/{name}")
            assert code == 200 and view["name"] == name
    assert len(accepted) >= 5  # the examples reach past validation, or this proves nothing
    code, listing = await api("GET", "services")
    assert code == 200 and sorted(v["name"] for v in listing["services"]) == sorted(accepted)
    buffer = bytearray()
    stream = asyncio.ensure_future(jp_fetch("svc", "api", "events", streaming_callback=buffer.extend,
                                            request_timeout=30))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while buffer.count(b"event: service") < len(accepted) and loop.time() < deadline and not stream.done():
        await asyncio.sleep(0.05)
    stream.cancel()
    blocks = [b for b in buffer.decode().split("\n\n") if b.startswith("event: service")]
    names = sorted(json.loads(block.split("\ndata: ", 1)[1])["name"] for block in blocks)
    assert names == sorted(accepted)
