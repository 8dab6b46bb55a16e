"""What a new user hit in the first hour (issue 17, part 2), each against a real server and kernel.

The server runs under a JupyterHub-like prefix (``/user/alice/``) from a working directory that is
not its root_dir, so that "where does a service start" and "where do links point" have one right
answer each. Kernels are real ipykernels (nbclient, or jupyter_client where a test interrupts).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from notebook_helpers.fixtures import api, fetch, fetch_until, run_notebook
from notebook_helpers.server import LiveServer, live_server

ECHO = str(Path(__file__).parent / "apps" / "echo_app.py")
PY = sys.executable
PREFIX = "/user/alice/"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server at /user/alice/ whose process runs in ``elsewhere/``, not in its root_dir."""
    tmp = tmp_path_factory.mktemp("firsthour")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "elsewhere-marker.txt").write_text("the server process's cwd\n")
    with live_server(tmp, base_url=PREFIX, cwd=elsewhere) as server:
        (server.root_dir / "root-marker.txt").write_text("root_dir\n")
        (server.root_dir / "notes").mkdir()
        (server.root_dir / "notes" / "notes-marker.txt").write_text("the notebook's folder\n")
        yield server


def _until(check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true after {timeout:g}s")


def _view(server: LiveServer, name: str) -> dict[str, Any]:
    code, view = api(server, "GET", f"services/{name}")
    assert code == 200, view
    return dict(view)


HTTP = f"{PY} -m http.server {{port}} --bind 127.0.0.1"


def test_services_start_in_the_notebooks_folder_and_rest_ones_in_root_dir(hub: LiveServer) -> None:
    """Never in the server process's cwd: a notebook's service in the notebook's folder, a REST one
    (no cwd) in root_dir, a relative cwd under root_dir."""
    form = ("from jupyter_svc.widgets import ServiceForm\nform = ServiceForm()\n"
            f"form.set_values({{'name': 'wkfolder', 'command': '{HTTP}'}})\nprint(form.submit().status.state.value)")
    results = run_notebook(hub, ["%load_ext jupyter_svc", f"%svc create nbfolder -- {HTTP}", form],
                           cwd=hub.root_dir / "notes")
    assert all(not r.errors for r in results), [(r.source, r.all) for r in results]
    assert results[2].stdout.strip() == "ready"
    assert fetch(hub, "svc/nbfolder/notes-marker.txt") == (200, "the notebook's folder\n")
    assert fetch(hub, "svc/wkfolder/notes-marker.txt") == (200, "the notebook's folder\n")  # the form too
    command = [PY, "-m", "http.server", "{port}", "--bind", "127.0.0.1"]
    assert api(hub, "POST", "services?wait=60", {"name": "restroot", "command": command})[0] == 201
    assert fetch(hub, "svc/restroot/root-marker.txt") == (200, "root_dir\n")
    assert fetch(hub, "svc/restroot/elsewhere-marker.txt")[0] == 404
    assert api(hub, "POST", "services?wait=60", {"name": "restrel", "command": command, "cwd": "notes"})[0] == 201
    assert fetch(hub, "svc/restrel/notes-marker.txt")[0] == 200
    for name in ("nbfolder", "wkfolder", "restroot", "restrel"):
        api(hub, "DELETE", f"services/{name}")


def test_links_under_jupyterhub_point_where_the_browser_is(hub: LiveServer) -> None:
    """The kernel calls the API at the internal address; the links it shows are relative to the page,
    or on the Hub's public URL when the Hub gives one."""
    assert api(hub, "POST", "services?wait=60", {"name": "nblinks", "command": [PY, ECHO, "{port}"]})[0] == 201
    cells = ["%load_ext jupyter_svc", "%svc open nblinks", "%svc list", "%svc restart nblinks"]
    relative = run_notebook(hub, cells, env=hub.client_env() | {"JUPYTERHUB_SERVICE_PREFIX": PREFIX})
    public = run_notebook(hub, cells, env=hub.client_env() | {"JUPYTERHUB_SERVICE_PREFIX": PREFIX,
                                                              "JUPYTERHUB_PUBLIC_URL": "https://hub.example.org/"})
    for results in (relative, public):
        assert all(not r.errors for r in results), [(r.source, r.all) for r in results]
    assert f'<a href="{PREFIX}svc/nblinks/"' in relative[1].html
    assert f'href="{PREFIX}svc/nblinks/"' in relative[2].html and "127.0.0.1" not in relative[2].html
    assert f"nblinks: ready at {PREFIX}svc/nblinks/" in relative[3].text
    assert '<a href="https://hub.example.org/user/alice/svc/nblinks/"' in public[1].html
    assert "ready at https://hub.example.org/user/alice/svc/nblinks/" in public[3].text
    api(hub, "DELETE", "services/nblinks")


@pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="fastapi is not installed")
def test_rerunning_a_failed_cell_starts_the_app_again(hub: LiveServer) -> None:
    """The user fixes what was missing (here a module, as `pip install` would), re-runs the same cell:
    it starts again. A later change of code restarts it with one message, not "ready" then "restarting"."""
    cell = ("%%svc fastapi nbretry\nimport nbretry_helper\nfrom fastapi import FastAPI\napp = FastAPI()\n\n"
            "@app.get('/')\ndef root():\n    return {{'answer': nbretry_helper.ANSWER, 'version': {}}}\n")
    first = run_notebook(hub, ["%load_ext jupyter_svc", cell.format(1), "print('after the failure')"],
                         allow_errors=False)
    assert "nbretry: failed" in first[1].text and "No module named 'nbretry_helper'" in first[1].all
    assert first[1].errors and first[1].errors[0].startswith("SvcMagicError: nbretry failed to start")
    assert first[2].stdout == ""  # Run All stopped at the failing cell
    for shown in (first[1].text, first[1].html, first[1].error):  # the log tail once in each view
        assert shown.count("No module named 'nbretry_helper'") <= 1, shown
    assert first[1].text.count("No module named 'nbretry_helper'") == 1
    (hub.root_dir / ".jupyter-svc" / "nbretry" / "nbretry_helper.py").write_text("ANSWER = 42\n")
    again = run_notebook(hub, ["%load_ext jupyter_svc", cell.format(1)])
    assert not again[1].errors, again[1].all
    assert "nbretry: ready" in again[1].text
    assert json.loads(fetch(hub, "svc/nbretry/")[1]) == {"answer": 42, "version": 1}
    changed = run_notebook(hub, ["%load_ext jupyter_svc", cell.format(2)])
    assert not changed[1].errors, changed[1].all
    assert changed[1].text.count("nbretry: ready") == 1, changed[1].text
    assert json.loads(fetch_until(hub, "svc/nbretry/", '"version":2'))["version"] == 2
    deleted = run_notebook(hub, ["%load_ext jupyter_svc", "%svc delete nbretry"])
    assert not deleted[1].errors and "deleted nbretry and its cell's folder" in deleted[1].stdout
    assert not (hub.root_dir / ".jupyter-svc" / "nbretry").exists()  # no leftovers


def test_failures_raise_in_the_notebooks_words(hub: LiveServer) -> None:
    """A failing %svc fails its cell with one short message: Run All stops; an existing name gets the
    notebook's way out, not REST's; an app that never listens is told where it must listen."""
    never = f"{PY} -c \"print('deaf app' + ' up', flush=True); import time; time.sleep(120)\""
    results = run_notebook(hub, [
        "%load_ext jupyter_svc",
        f"%svc create nbdup -- {PY} {ECHO} {{port}}",
        f"%svc create nbdup -- {PY} {ECHO} {{port}}",
        f"%svc create nbdeaf --set readiness.timeout=3s -- {never}",
        "%svc get nosuch",
        "print('not reached')",
    ], allow_errors=False)
    assert not results[1].errors and "nbdup: ready" in results[1].text
    dup = results[2]
    assert dup.errors and dup.errors[0].startswith("SvcMagicError: error: a service named 'nbdup' exists already")
    assert "%svc update nbdup" in dup.error and "PUT" not in dup.error and "Traceback" not in dup.error
    assert len(dup.tracebacks[0]) == 1  # one line
    assert results[3].errors == [] and results[4].stdout == "" and results[5].stdout == ""  # stopped
    rest = run_notebook(hub, ["%load_ext jupyter_svc", f"%svc create nbdeaf --set readiness.timeout=3s -- {never}",
                              "%svc get nosuch"])
    deaf, missing = rest[1], rest[2]
    assert deaf.errors and "must listen on {port}" in deaf.error, deaf.all
    assert deaf.text.count("deaf app up") == 1 and deaf.html.count("deaf app up") == 1, deaf.all  # once
    assert "deaf app up" not in deaf.error
    assert missing.error.strip() == "error: no service named 'nosuch'"
    for name in ("nbdup", "nbdeaf"):
        api(hub, "DELETE", f"services/{name}")


def test_waiting_shows_progress_and_an_interrupt_stops_only_the_wait(hub: LiveServer) -> None:
    """State, seconds and the last log line while an app starts; an interrupt ends the cell with a
    message, and the service keeps starting in the server."""
    km, kc = start_new_kernel(kernel_name="python3", env=hub.client_env(), cwd=str(hub.root_dir))
    try:
        kc.execute_interactive("%load_ext jupyter_svc", timeout=60)
        msg_id = kc.execute(f"%svc create nbslow -- {PY} {ECHO} {{port}} --delay 6")
        updates: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any("· [jupyter-svc] started pid" in u for u in updates):
            msg = kc.get_iopub_msg(timeout=10)
            if msg["msg_type"] == "update_display_data":
                updates.append(msg["content"]["data"]["text/plain"])
        assert any(u.startswith("starting nbslow… starting") and "· [jupyter-svc] started pid" in u
                   for u in updates), updates
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == msg_id
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "SvcMagicError"
        assert reply["content"]["evalue"].startswith("stopped waiting for nbslow (starting)")
        assert _until(lambda: _view(hub, "nbslow")["status"]["state"] == "ready", 60)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        api(hub, "DELETE", "services/nbslow")


def test_every_error_of_a_spec_in_rest_and_cli(hub: LiveServer) -> None:
    """The string-command error appears beside the others, not only alone."""
    code, answer = api(hub, "POST", "services", {"name": "Bad_Name", "command": "python -m http.server", "port": -1})
    assert code == 422
    assert {e["field"] for e in answer["errors"]} == {"name", "port", "command"}, answer
    env = hub.client_env()
    cli = subprocess.run([PY, "-m", "jupyter_svc.cli", "create", "Bad_Name", "--port", "-1",
                          "--set", "command=python -m http.server", "--", "x"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 1, cli.stderr
    for field in ("name:", "port:", "command: a string needs shell: true"):
        assert field in cli.stderr, cli.stderr


def test_an_app_listening_beyond_loopback_is_flagged(hub: LiveServer) -> None:
    """python -m http.server without --bind listens on every interface: a warning in the status (once
    it serves: the check is off the wake path), the logs and `%svc list`; an app on 127.0.0.1 carries none."""
    loose = {"name": "nbloose", "command": [PY, "-m", "http.server", "{port}"]}
    tight = {"name": "nbtight", "command": [PY, ECHO, "{port}"]}
    assert api(hub, "POST", "services?wait=60", loose)[0] == 201
    assert api(hub, "POST", "services?wait=60", tight)[0] == 201
    deadline = time.monotonic() + 10  # the check runs once the app serves, off the wake path
    while not (status := _view(hub, "nbloose")["status"])["message"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert status["state"] == "ready"
    assert "reachable without Jupyter's login" in status["message"], status
    assert ("0.0.0.0:" in status["message"]) or ("[::]:" in status["message"])
    assert _view(hub, "nbtight")["status"]["message"] == ""
    assert "[jupyter-svc] warning: listening on" in fetch(hub, "svc/api/services/nbloose/logs")[1]
    listing = run_notebook(hub, ["%load_ext jupyter_svc", "%svc list"])[1]
    row = next(line for line in listing.text.splitlines() if line.startswith("nbloose"))
    assert "⚠ listening on" in row
    for name in ("nbloose", "nbtight"):
        api(hub, "DELETE", f"services/{name}")


def test_a_server_can_refuse_exposed_services(tmp_path: Path) -> None:
    """SvcExtension.refuse_exposed_services: such an app fails to start (and is stopped)."""
    with live_server(tmp_path, svc_config={"refuse_exposed_services": True}) as server:
        spec = {"name": "exposed", "command": [PY, "-m", "http.server", "{port}"], "restart_policy": "never"}
        code, answer = api(server, "POST", "services?wait=60", spec)
        assert code in (201, 503), answer
        status = _view(server, "exposed")["status"]
        assert status["state"] == "failed" and "refused: listening on" in status["message"], status
        assert api(server, "POST", "services?wait=60", {"name": "fine", "command": [PY, ECHO, "{port}"]})[0] == 201


def test_a_service_at_zero_stays_at_zero_across_a_server_restart(tmp_path: Path) -> None:
    """Idle scale-down (desired state still ready), server stopped and started: still at zero, no
    process, until a request wakes it."""
    spec = {"name": "sleepy", "command": [PY, ECHO, "{port}"], "scale_to_zero": "1s"}
    with live_server(tmp_path) as server:
        assert api(server, "POST", "services?wait=60", spec)[0] == 201
        assert _until(lambda: _view(server, "sleepy")["status"]["state"] == "scaled_to_zero", 30)
        started_at = _view(server, "sleepy")["status"]["started_at"]
        time.sleep(1.0)  # the status is saved up to 0.5 s after a change
    with live_server(tmp_path) as server:
        time.sleep(2.0)  # a start would have happened by now (and the idle loop would hide it: 1 s)
        status = _view(server, "sleepy")["status"]
        assert status["state"] == "scaled_to_zero" and status["endpoint"] == "", status
        assert status["started_at"] == started_at, status  # no instance was started
        assert json.loads(fetch(server, "svc/sleepy/ping")[1])["path"] == "/ping"
        assert _view(server, "sleepy")["status"]["state"] == "ready"
