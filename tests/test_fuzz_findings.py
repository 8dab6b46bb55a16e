"""What fuzzing the API found (issue 14, part 6), each kept as a test: the fixes in the model, the
handlers and the manager, through a real server where the fault was the server's answer."""

from __future__ import annotations

import re
import time

import pytest
from conftest import echo_command
from pydantic import ValidationError

from jupyter_svc.model.safe_text import HTTP_URL_PATTERN, check_http_url
from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.model.units import DURATION_PATTERN, format_duration, parse_duration, parse_quantity


async def test_a_quantity_out_of_range_is_a_422_not_a_500(api):
    """``.9e6065`` GPUs: ``Decimal % 1`` raised DivisionImpossible (a 500)."""
    for gpu in (".922896554e6065", "1e400", "9e30"):
        code, body = await api("POST", "services", {"name": "gpus", "command": ["x"],
                                                    "resources": {"limits": {"gpu": gpu}}})
        assert code == 422, (gpu, code, body)
        assert body["errors"][0]["field"] == "resources.limits.gpu" and "out of range" in body["errors"][0]["message"]
    assert parse_quantity("1Ei") == 2**60 and parse_quantity("1e-3") * 1000 == 1


@pytest.mark.timeout(30)
def test_a_long_host_name_is_refused_at_once():
    """``(label\\.?)+`` backtracked exponentially: a 34-character host and a bad last character
    held the event loop for minutes. Each of these returns at once now."""
    for host in ("a" * 40 + "!", "a-" * 2000 + "!", "a." * 2000 + "-"):
        started = time.monotonic()
        with pytest.raises(ValueError):
            check_http_url(f"http://{host}/")
        assert re.search(HTTP_URL_PATTERN, f"http://{host}/") is None
        assert time.monotonic() - started < 10  # exponential took minutes; linear takes microseconds
    assert check_http_url("http://a.b-c.example:8080/x?y=1") and re.search(HTTP_URL_PATTERN, "http://a.b-c.example:8080/x")


async def test_an_empty_image_is_nothing_to_run(api):
    """``{"image": ""}`` passed validation, then the local backend's start asserted (a traceback)."""
    with pytest.raises(ValidationError, match="set command"):
        ServiceSpec(name="a", image="")
    code, body = await api("PUT", "services/blank", {"image": ""})
    assert code == 422 and body["errors"][0]["field"] == "command", body


def test_every_duration_is_written_as_it_is_read():
    """``{:g}`` wrote 1234567.5 s as "1.23457e+06s" (unreadable after a restart) and 0.0004 s as
    "0ms" (never)."""
    for seconds in (0.0004, 0.00001, 0.5, 1.5, 90.0, 1234567.5, 0.1 + 0.2, 31535999.999999):
        text = format_duration(seconds)
        assert parse_duration(text) == seconds, (seconds, text)
        assert re.search(DURATION_PATTERN, text), text
    assert not re.search(DURATION_PATTERN, "PT5M")  # ISO 8601's, which the schema no longer claims


async def test_text_routes_say_text_and_405_says_allow(jp_fetch, api):
    code, _ = await api("POST", "services", {"name": "texty", "command": echo_command()}, wait=20)
    assert code == 201
    logs = await jp_fetch("svc", "api", "services", "texty", "logs")
    assert logs.headers["Content-Type"].startswith("text/plain"), logs.headers  # APIHandler made it JSON
    metrics = await jp_fetch("svc", "api", "metrics")
    assert metrics.headers["Content-Type"].startswith("text/plain"), metrics.headers
    refused = await jp_fetch("svc", "api", "services", method="DELETE", raise_error=False)
    assert refused.code == 405 and refused.headers["Allow"] == "GET, POST", refused.headers


async def test_query_and_small_bodies_are_read_one_way(api):
    code, _ = await api("POST", "services", {"name": "q", "command": echo_command(), "desired_state": "disabled"})
    assert code == 201
    code, body = await api("GET", "services/q/logs", follow="null")  # was read as "no"
    assert code == 422 and body["errors"][0]["field"] == "follow", body
    code, body = await api("POST", "services/q/scale", {"replicas": 1.0})  # JSON Schema's integer
    assert code in (200, 202), body
    code, body = await api("POST", "apply", {"mode": "merge"})  # was an empty manifest
    assert code == 422 and body["errors"][0]["field"] == "manifest", body
    code, body = await api("POST", "apply", {"manifest": [], "dry_run": {}})  # was read as false
    assert code == 422 and body["errors"][0]["field"] == "dry_run", body
    code, body = await api("POST", "services", {"name": "w", "command": ["x"]}, wait="nan")
    assert code == 422 and body["errors"][0]["field"] == "wait", body


async def test_a_wake_that_fails_settles_as_failed(api):
    """``POST wake?wait=`` of an app that cannot start answered 503 (a server error to a client);
    like every write with ``?wait``, it now answers the settled view: failed, with the log lines."""
    script = "import sys; print('cannot start: no config', flush=True); sys.exit(3)"
    code, body = await api("POST", "services", {"name": "nowake", "command": ["python3", "-c", script],
                                                "desired_state": "scaled_to_zero"})
    assert code == 201, body
    code, view = await api("POST", "services/nowake/wake", wait=30)
    assert code == 200 and view["status"]["state"] == "failed", view
    assert "cannot start: no config" in view["status"]["message"]


@pytest.mark.parametrize("value", ["plain", "", "tab\there", "new\nline", "nul\x00", "esc\x1b", "del\x7f",
                                   "é ✓ 😍", "/path/x?y=1", "has space", "\u0085next-line"])
def test_the_string_patterns_of_the_schema_agree_with_the_validators(value):
    """The document states what each kind of string may hold (a schema-valid string was refused
    before, as "holds a control character"); Python's ``re`` reads the patterns as the browser does."""
    from jupyter_svc.model.safe_text import (
        LINE_PATTERN,
        TEXT_PATTERN,
        URL_PATH_PATTERN,
        check_line,
        check_text,
        check_url_path,
    )

    for pattern, check in ((TEXT_PATTERN, check_text), (LINE_PATTERN, check_line), (URL_PATH_PATTERN, check_url_path)):
        try:
            check(value)
            accepted = True
        except ValueError:
            accepted = False
        assert (re.search(pattern, value) is not None) is accepted, (pattern, value)


async def test_an_external_service_has_nothing_to_wake(api):
    """``POST wake`` of a service with a url started a process for it (the local backend's start
    asserted: a traceback in the log); like restart, it is a 409 now."""
    code, body = await api("POST", "services", {"name": "outside", "url": "http://127.0.0.1:9/"})
    assert code == 201, body
    code, body = await api("POST", "services/outside/wake", wait=5)
    assert code == 409 and "external" in body["message"], body
