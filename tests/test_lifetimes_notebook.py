"""Lifetimes from a notebook: the magics in a kernel that a real `jupyter server` started for a
notebook (through its sessions API, as JupyterLab does), and in one it did not (nbclient's)."""

from __future__ import annotations

import json
import queue
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from jupyter_client import BlockingKernelClient

from tests.notebook_helpers.fixtures import api, live, run_notebook  # noqa: F401 - live is a fixture
from tests.notebook_helpers.server import LiveServer

SERVE = "-- python -m http.server {port} --bind 127.0.0.1"


def _jupyter(server: LiveServer, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data, method=method,
                                     headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        text = response.read().decode()
        return response.status, json.loads(text) if text else None


class Kernel:
    """A kernel the server started for a notebook, driven over its own connection file."""

    def __init__(self, server: LiveServer, notebook: str) -> None:
        _, session = _jupyter(server, "POST", "api/sessions",
                              {"path": notebook, "name": notebook.rsplit("/", 1)[-1], "type": "notebook",
                               "kernel": {"name": "python3"}})
        self.server, self.session, self.id = server, session["id"], session["kernel"]["id"]
        self.client = BlockingKernelClient(connection_file=str(server.runtime_dir / f"kernel-{self.id}.json"))
        self.client.load_connection_file()
        self.client.start_channels()
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        """kernel_info answered (not wait_for_ready: without a kernel manager it reads a heartbeat
        that may not beat yet as "died")."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self.client.kernel_info()
            try:
                while self.client.get_shell_msg(timeout=2)["parent_header"].get("msg_id") != msg_id:
                    pass
                return
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise

    def run(self, code: str) -> tuple[str, str]:
        """(status, everything shown) of one cell."""
        shown: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            content = msg["content"]
            if msg["msg_type"] == "stream":
                shown.append(content["text"])
            elif msg["msg_type"] in ("display_data", "execute_result"):
                shown.append(str(content["data"].get("text/plain", "")))
            elif msg["msg_type"] == "error":
                shown.append(f"{content['ename']}: {content['evalue']}")

        reply = self.client.execute_interactive(code, timeout=180, output_hook=hook)
        return reply["content"]["status"], "".join(shown)

    def close(self) -> None:
        self.client.stop_channels()
        _jupyter(self.server, "DELETE", f"api/sessions/{self.session}")


@pytest.fixture
def kernel(live: LiveServer) -> Iterator[Kernel]:  # noqa: F811 - live is the fixture
    (live.root_dir / "work").mkdir(exist_ok=True)  # the session's kernel starts in the notebook's folder
    k = Kernel(live, "work/analysis.ipynb")
    yield k
    k.client.stop_channels()


def _gone(server: LiveServer, name: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api(server, "GET", f"services/{name}")[0] == 404:
            return True
        time.sleep(0.2)
    return False


def test_a_cell_app_lives_as_long_as_its_notebooks_kernel(live: LiveServer, kernel: Kernel) -> None:  # noqa: F811
    """``%%svc`` binds to the kernel by default (its notebook shown), ``--lifetime persistent`` does
    not; shutting the notebook's session down deletes the bound app only."""
    status, shown = kernel.run("%load_ext jupyter_svc")
    assert status == "ok", shown
    status, shown = kernel.run("%%svc http page\n<h1>bound to this kernel</h1>")
    assert status == "ok", shown
    status, shown = kernel.run(f"%svc create keeper --lifetime persistent {SERVE}")
    assert status == "ok", shown
    status, shown = kernel.run(f"%svc create zeroed --lifetime kernel --on-kernel-end zero {SERVE}")
    assert status == "ok", shown

    _, page = api(live, "GET", "services/page")
    assert page["spec"]["kernel"]["id"] == kernel.id
    assert page["spec"]["kernel"]["path"].endswith("work/analysis.ipynb")
    assert page["spec"]["kernel"]["on_end"] == "delete"
    _, keeper = api(live, "GET", "services/keeper")
    assert keeper["spec"]["kernel"] is None
    _, zeroed = api(live, "GET", "services/zeroed")
    assert zeroed["spec"]["kernel"]["on_end"] == "scale_to_zero"
    status, shown = kernel.run("%svc list")
    assert "analysis.ipynb" in shown, shown  # the list says which notebook a service belongs to

    kernel.close()
    assert _gone(live, "page"), "the bound cell app outlived its kernel"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and api(live, "GET", "services/zeroed")[1]["status"]["state"] != "scaled_to_zero":
        time.sleep(0.2)
    assert api(live, "GET", "services/zeroed")[1]["status"]["state"] == "scaled_to_zero"
    assert api(live, "GET", "services/keeper")[1]["status"]["state"] == "ready"
    for name in ("keeper", "zeroed"):
        api(live, "DELETE", f"services/{name}")


def test_keep_warm_and_expiry_options(live: LiveServer, kernel: Kernel) -> None:  # noqa: F811
    kernel.run("%load_ext jupyter_svc")
    status, shown = kernel.run(
        "%svc create office --lifetime persistent --expires 3h "
        f"--keep-warm '0 8 * * 1-5 to 0 18 * * 1-5 in Europe/Paris' --keep-warm '@daily to 5 0 * * *' {SERVE}")
    assert status == "ok", shown
    _, view = api(live, "GET", "services/office")
    assert view["spec"]["expires_after"] == "3h"
    assert view["spec"]["keep_warm"] == [
        {"start": "0 8 * * 1-5", "end": "0 18 * * 1-5", "timezone": "Europe/Paris"},
        {"start": "@daily", "end": "5 0 * * *", "timezone": "UTC"}]
    status, shown = kernel.run("%svc list")
    assert "expires" in shown and "warm" in shown, shown

    status, shown = kernel.run(f"%svc create bad --keep-warm '0 8 * * to 0 9 * * *' {SERVE}")
    assert status == "error" and "keep_warm[0].start" in shown and "cron" in shown, shown
    status, shown = kernel.run(f"%svc create bad --keep-warm 'at eight' {SERVE}")
    assert status == "error" and "START to END" in shown, shown
    api(live, "DELETE", "services/office")


def test_outside_a_servers_kernel_cells_fall_back_and_explicit_binding_fails(live: LiveServer) -> None:  # noqa: F811
    """nbclient starts its own kernel, which no server knows: a cell app is created unbound, and an
    explicit ``--lifetime kernel`` fails the cell with a short message."""
    cells = ["%load_ext jupyter_svc", "%%svc http unbound\n<p>hi</p>",
             f"%svc create insist --lifetime kernel {SERVE}"]
    results = run_notebook(live, cells)
    assert not results[1].errors, results[1].all
    assert api(live, "GET", "services/unbound")[1]["spec"]["kernel"] is None
    said = results[2].error
    assert results[2].errors and "not started by the Jupyter server that runs the services" in said, results[2].all
    assert api(live, "GET", "services/insist")[0] == 404
    api(live, "DELETE", "services/unbound")
