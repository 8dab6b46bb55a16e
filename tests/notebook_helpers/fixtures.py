"""Fixtures and helpers shared by the notebook-side tests (import the names you use)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from .server import LiveServer, live_server

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real `jupyter server` with jupyter-svc for the whole test module."""
    with live_server(tmp_path_factory.mktemp("live")) as server:
        yield server


@dataclass
class CellResult:
    source: str
    stdout: str = ""
    stderr: str = ""
    text: str = ""  # text/plain of results and displays
    html: str = ""  # text/html of results and displays
    errors: list[str] = field(default_factory=list)  # ename: evalue of raised exceptions
    tracebacks: list[list[str]] = field(default_factory=list)  # what the frontend shows for each error
    mimes: set[str] = field(default_factory=set)  # every MIME type the cell displayed

    @property
    def error(self) -> str:
        """The errors as the frontend shows them (ANSI colours removed)."""
        return "\n".join("\n".join(tb) for tb in self.tracebacks)

    @property
    def all(self) -> str:
        return "\n".join((self.stdout, self.stderr, self.text, self.html, self.error))


def run_notebook(server: LiveServer, cells: list[str], env: dict[str, str] | None = None,
                 timeout: int = 240, cwd: Path | None = None, allow_errors: bool = True) -> list[CellResult]:
    """Execute ``cells`` in a real ipykernel (cwd = the server's root) and collect each cell's output;
    ``allow_errors=False`` stops at the first failing cell, as "Run All" and nbconvert do."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors,
                            resources={"metadata": {"path": str(cwd or server.root_dir)}})
    try:
        client.execute(env=env if env is not None else server.client_env())
    except CellExecutionError:
        if allow_errors:
            raise
    results = []
    for cell in nb.cells:
        result = CellResult(cell.source)
        for out in cell.outputs:
            if out.output_type == "stream":
                if out.name == "stdout":
                    result.stdout += out.text
                else:
                    result.stderr += out.text
            elif out.output_type in ("execute_result", "display_data"):
                result.text += str(out.data.get("text/plain", "")) + "\n"
                result.html += str(out.data.get("text/html", "")) + "\n"
                result.mimes.update(out.data)
            elif out.output_type == "error":
                result.errors.append(f"{out.ename}: {out.evalue}")
                result.tracebacks.append([_ANSI.sub("", line) for line in out.traceback])
        results.append(result)
    return results


def fetch(server: LiveServer, path: str, token: bool = True, timeout: float = 60.0) -> tuple[int, str]:
    """GET a path under the server (e.g. ``svc/web/``) as a browser with the token would."""
    headers = {"Authorization": f"token {server.token}"} if token else {}
    request = urllib.request.Request(server.url + path.lstrip("/"), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def fetch_until(server: LiveServer, path: str, expect: str, timeout: float = 60.0) -> str:
    """Poll ``path`` until its body contains ``expect`` (an app that restarts answers late)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fetch(server, path)
        if last[0] == 200 and expect in last[1]:
            return last[1]
        time.sleep(0.3)
    raise AssertionError(f"{path} never returned {expect!r}; last: {last!r}")


def api(server: LiveServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Raw REST call, independent of the client under test."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + "svc/api/" + path, data, method=method,
                                     headers={"Authorization": f"token {server.token}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        return exc.code, json.loads(text) if text.startswith("{") else text
