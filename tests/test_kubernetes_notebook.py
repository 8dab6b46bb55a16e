"""The kernel's side with the Kubernetes backend: ``%svc`` magics in a real ipykernel (nbclient) and the
ServiceBoard widget, against a real ``jupyter server`` whose default backend is ``kubernetes`` on the
control plane ``$JUPYTER_SVC_TEST_KUBECONFIG`` names (skipped, saying so, without it).

As in the backend contract's kubernetes case (tests/kube_contract.py), a played kubelet runs each
pod's command as a local process and the server reaches it through the endpoint seam with
``loopback_only``; nothing connects to a pod or cluster address.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KUBECONFIG_VAR, echo_command
from notebook_helpers.fixtures import fetch, run_notebook
from notebook_helpers.server import LiveServer, live_server

from jupyter_svc.client import Client
from jupyter_svc.model.status import ServiceState
from jupyter_svc.widgets import ServiceBoard

ECHO = str(Path(__file__).parent / "apps" / "echo_app.py")
IMAGE = "registry.example/contract-echo:1"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    kubeconfig = os.environ.get(KUBECONFIG_VAR)
    if not kubeconfig:
        pytest.skip(f"{KUBECONFIG_VAR} is unset: no Kubernetes cluster to test against "
                    "(.ci/run starts one with ../shared/k8s/up.sh)")
    from kube_contract import kubernetes_case_cluster

    tmp = tmp_path_factory.mktemp("kube-live")
    with pytest.MonkeyPatch.context() as patch:
        # the server imports the tests' endpoint resolver (kube_play:resolve) from here
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(Path(__file__).parent),
                                                                 os.environ.get("PYTHONPATH")])))
        with kubernetes_case_cluster(kubeconfig, tmp) as classes, \
                live_server(tmp, svc_config={"default_backend": "kubernetes"}, classes=classes) as server:
            yield server


def test_magics_on_the_cluster(live: LiveServer) -> None:
    """create (with an image), list, logs, restart (a rollout restart), stop (0 replicas), a wake
    through the URL, get, delete: each one line in a notebook, as with local processes."""
    results = run_notebook(live, [
        "%load_ext jupyter_svc",
        f"%svc create kweb --idle 10m --set image={IMAGE} -- {sys.executable} {ECHO} {{port}} --version one",
        "%svc list",
        "%svc logs kweb --tail 5 --container app",
        "%svc restart kweb",
        "%svc stop kweb",
        "import os, json, urllib.request\n"
        "req = urllib.request.Request(os.environ['JUPYTER_SVC_URL'] + 'svc/kweb/hello',\n"
        "    headers={'Authorization': 'token ' + os.environ['JUPYTER_SVC_TOKEN']})\n"
        "answer = json.load(urllib.request.urlopen(req, timeout=60))\n"
        "print(answer['path'], answer['version'])",
        "%svc get kweb --json",
        "%svc delete kweb",
        "%svc list",
    ])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    _, create, listing, logs, restart, stop, wake, get, _, empty = results
    assert "kweb: ready" in create.text and "/svc/kweb/" in create.text
    assert "<table class='jupyter-svc-list'>" in listing.html and "kweb" in listing.html
    assert "[app] echo app version one listening" in logs.stdout  # the played kubelet's container prefix
    assert "kweb: ready" in restart.text
    assert "kweb: scaled_to_zero" in stop.text
    assert wake.stdout.strip() == "/hello one"
    view = json.loads(get.stdout)
    assert view["status"]["state"] == "ready" and view["status"]["backend"] == "kubernetes"
    assert view["status"]["restarts"] >= 1 and view["status"]["cold_starts"] >= 1
    assert "No services yet" in empty.text


def test_board_buttons_on_the_cluster(live: LiveServer) -> None:
    """ServiceBoard's buttons on a Deployment: stop, wake, restart, disable and enable, logs, delete."""
    client = Client(live.url, live.token)
    client.create({"name": "kb", "image": IMAGE, "command": echo_command()}, wait=60)
    board = ServiceBoard(client, auto=False)
    row = board.rows["kb"]
    assert "ready" in row.state.value and "/svc/kb/" in row.link.value
    row.buttons["stop"].click()
    assert client.get("kb").status.state is ServiceState.scaled_to_zero
    row.buttons["wake"].click()
    assert client.get("kb").status.state is ServiceState.ready
    assert fetch(live, "svc/kb/")[0] == 200
    row.buttons["restart"].click()
    assert client.get("kb").status.restarts >= 1
    row.buttons["disable"].click()
    assert client.get("kb").status.state is ServiceState.disabled
    row.buttons["disable"].click()
    assert client.get("kb").status.state is ServiceState.ready
    row.buttons["logs"].click()
    assert "echo app version 1 listening" in board.logs.value
    row.buttons["delete"].click()
    row.confirm.children[0].click()
    assert client.list() == [] and board.rows == {}
