"""Fuzzing (issue 14, part 6): schemathesis against the OpenAPI document a real server serves.

Every phase (examples, coverage, fuzzing, stateful sequences) and every check runs, with a bounded
number of examples, through schemathesis's own engine (its Python API, no CLI); the test asserts
no failure at all: no 5xx, every response (status, content type, body, each SSE event) as the
document says, a schema-valid request accepted, a schema-invalid one refused, a request without
credentials refused, an undeclared method a 405 with ``Allow``.

The server is a real ``jupyter server`` in a child process. Fuzzed specs start real processes, so
the server's ``PATH`` holds ``setpriv`` alone: a generated argv or shell line cannot name a
program of this machine (only an absolute path could, and the generator does not write those).
External services' URLs are stored, never connected to (the API does not probe them).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from notebook_helpers.server import LiveServer, live_server

schemathesis = pytest.importorskip("schemathesis")

from schemathesis.config import SchemathesisConfig  # noqa: E402
from schemathesis.engine import Status, from_schema  # noqa: E402
from schemathesis.engine import events as engine_events  # noqa: E402

#: Examples per operation and phase: 25 keeps the run well under 2 minutes on 2 cores.
MAX_EXAMPLES = int(os.environ.get("JUPYTER_SVC_FUZZ_EXAMPLES", "25"))


#: Operations whose schema-valid requests may still be refused with a 422 for a rule no schema of
#: the request alone can state, each named by field in the answer: what the server's backends can
#: run (GET backends lists the fields each refuses: the local one runs no image, one replica),
#: names of other services (depends_on), the merge of a patch with the stored spec, a URL that
#: resolves to this server, an idle window past a year.
STATEFUL_RULES = ("POST /services", "PUT /services/{name}", "PATCH /services/{name}", "POST /apply",
                  "POST /services/{name}/scale")
ACCEPTED_OR_422 = ["2xx", "401", "403", "404", "409", "422"]
#: A service that exists throughout, so that the event stream starts with an event at once.
SEED = "fuzz-seed-service-kept-throughout"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("fuzz")
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    setpriv = shutil.which("setpriv")
    if setpriv:
        (bin_dir / "setpriv").symlink_to(setpriv)
    path = os.environ.get("PATH")
    os.environ["PATH"] = str(bin_dir)  # live_server hands the server this environment
    try:
        with live_server(tmp, svc_config={"readiness_timeout": 3.0, "stop_grace": 1.0}) as server:
            yield server
    finally:
        if path is not None:
            os.environ["PATH"] = path


def fuzz_config(server: LiveServer) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "base-url": server.url + "svc/api",
        "headers": {"Authorization": f"token {server.token}"},
        "request-timeout": 30,
        "max-stream-events": 1,
        "seed": 14,
        "generation": {"max-examples": MAX_EXAMPLES},
        "checks": {"enabled": True},
        "operations": [
            # an endless stream cannot be read to its end: logs are read as a page, ?follow is
            # tested in tests/test_lifecycle.py; ?container names one of the containers the service's
            # backend runs (the local one runs one log per service and answers 422 naming it)
            {"include-name": "GET /services/{name}/logs", "parameters": {"follow": False},
             "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_422}}},
            *({"include-name": name, "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_422}}}
              for name in STATEFUL_RULES),
        ],
    })


def run_schemathesis(server: LiveServer) -> tuple[list[str], Counter[str], int]:
    """(one line per failure or error, case count by operation, cases run)."""
    seed = urllib.request.Request(server.url + "svc/api/services", method="POST", data=json.dumps(
        {"name": SEED, "command": ["sleep", "1000"], "desired_state": "disabled"}).encode(),
        headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(seed, timeout=30) as answer:
        assert answer.status == 201
    schema = schemathesis.openapi.from_url(server.url + "svc/api/openapi.json", config=fuzz_config(server),
                                           headers={"Authorization": f"token {server.token}"})
    problems: list[str] = []
    per_operation: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, engine_events.ScenarioFinished):
            recorder = event.recorder
            per_operation[recorder.label] += len(recorder.cases)
            for checks in recorder.checks.values():
                for check in checks:
                    if check.status is Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        problems.append(f"{recorder.label}: {check.name}: {failure.title}: "
                                        f"{failure.message[:300]}\n    {check.failure_info.code_sample}")
            phases[str(event.phase)] += event.elapsed_time
        elif isinstance(event, engine_events.NonFatalError):
            problems.append(f"{event.label}: error: {event.value!r}")
        elif isinstance(event, engine_events.FatalError):
            problems.append(f"fatal: {event.exception!r}")
    print("seconds per phase:", {phase: round(seconds, 1) for phase, seconds in phases.items()}, file=sys.stderr)
    return problems, per_operation, sum(per_operation.values())


@pytest.mark.timeout(600)
def test_schemathesis_finds_nothing(fuzz_server: LiveServer) -> None:
    problems, per_operation, cases = run_schemathesis(fuzz_server)
    print(f"schemathesis {schemathesis.SCHEMATHESIS_VERSION}: {cases} cases over {len(per_operation)} "
          f"scenarios, {len(problems)} problems", file=sys.stderr)
    assert cases >= 100, per_operation  # it did run
    unique = sorted(set(problems))
    log = Path(fuzz_server.log_path).read_text(errors="replace")
    errors = [line for line in log.splitlines() if re.search(r"\] 5[0-9][0-9] ", line)]
    assert not unique, f"{len(unique)} unique problems:\n" + "\n".join(unique[:40] + errors[:20])
    assert "Traceback" not in log, log[log.index("Traceback") - 2000:][:6000]
