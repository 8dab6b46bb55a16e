"""The backend contract: what every backend must do, run against each through a real `jupyter server`
(REST API and proxy, no mocks): start -> ready -> the proxy answers -> stop, wake, delete; an update
as the backend's strategy says (a failed one leaves the previous version serving); a crash handled by
whoever supervises; a server restart (adopted, or started anew, and no orphan left).

Backends, one fixture case each: ``local``; ``fake``, a third-party backend in
tests/backend_plugin registered through a real entry point (a ``.dist-info`` on PYTHONPATH) whose
processes outlive the server, that restarts them itself and reports it through ``Instance.health``,
and updates by a rollout; and ``kubernetes``, which joins when ``JUPYTER_SVC_TEST_KUBECONFIG``
names a cluster (its case comes with the backend: see ``CASES``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import KUBECONFIG_VAR, echo_command
from notebook_helpers.server import LiveServer, live_server

from jupyter_svc.client import ApiError, Client

PLUGIN = Path(__file__).parent / "backend_plugin"


@dataclass
class BackendCase:
    """How the contract runs against one backend."""

    name: str
    svc_config: dict[str, Any] = field(default_factory=dict)
    #: other classes' options for the server (the backend's own: ``{"FakeBackend": {...}}``)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: True: the backend restarts crashed instances itself and reports failures (Instance.health)
    supervises: bool = False
    #: True: its instances outlive the server and are adopted (not restarted) by the next one
    adopts: bool = False
    #: the argv of an app that answers HTTP with its version and pid (JSON) on {port}
    app: Callable[[str], list[str]] = lambda version: echo_command("--version", version)

    def spec(self, name: str, version: str = "1", **extra: Any) -> dict[str, Any]:
        return {"name": name, "command": self.app(version), "env": {"VERSION": version}, **extra}


def _local() -> BackendCase:
    return BackendCase("local")


def _fake() -> BackendCase:
    # a crash stays reported for 3 s before its restart: long enough to be seen under load
    return BackendCase("fake", {"backends": ["local", "fake"], "default_backend": "fake"},
                       {"FakeBackend": {"restart_delay": 3.0}}, supervises=True, adopts=True)


def _kubernetes() -> BackendCase:
    if not os.environ.get(KUBECONFIG_VAR):
        pytest.skip(f"{KUBECONFIG_VAR} is unset: the kubernetes backend joins this contract on a cluster")
    pytest.skip("the kubernetes backend's case (app image, played kubelet, loopback seam) lands with it")


#: One constructor per backend; the Kubernetes backend replaces its entry with a real case.
CASES: dict[str, Callable[[], BackendCase]] = {"local": _local, "fake": _fake, "kubernetes": _kubernetes}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> BackendCase:
    # the fake backend's distribution is found on the path, as an installed package would be
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")])))
    return CASES[request.param]()


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    """A failed test leaves no process behind: the fake backend's outlive their server by design."""
    yield
    for record in (tmp_path / "state" / "fake-cluster").glob("*.json"):
        pid = json.loads(record.read_text())["pid"]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def server(case: BackendCase, tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path, svc_config=case.svc_config, classes=case.classes) as live:
        yield live


def get(server: LiveServer, path: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"token {server.token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {"body": exc.read().decode(errors="replace")}


def answer(server: LiveServer, name: str) -> dict[str, Any]:
    code, body = get(server, f"svc/{name}/contract?x=1")
    assert code == 200, (code, body, server.log())
    assert body["path"] == "/contract?x=1"
    return body


def wait_state(client: Client, name: str, states: set[str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    view = client.get(name)
    while view.status.state.value not in states:
        assert time.monotonic() < deadline, f"{name} never reached {states}: {view.status}"
        time.sleep(0.05)
        view = client.get(name)
    return view


def gone(pid: int, timeout: float = 15) -> bool:
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def test_start_ready_proxy_stop_wake_delete(case: BackendCase, server: LiveServer) -> None:
    client = Client(server.url, server.token)
    view = client.put(case.spec("app"), wait=60)
    assert view.status.state.value == "ready", view.status
    assert view.status.backend == case.name
    first = answer(server, "app")
    assert first["version"] == "1"
    if case.name == "fake":  # the endpoint's own headers reach the app
        assert first["headers"].get("X-Fake-Backend") == "contract"
    assert "listening" in client.logs("app")

    view = client.scale("app", 0, wait=60)
    assert view.status.state.value == "scaled_to_zero", view.status
    assert gone(first["pid"]), "scaled to zero, but its process still runs"
    woken = answer(server, "app")  # held through the wake
    assert woken["pid"] != first["pid"] and woken["version"] == "1"
    assert client.get("app").status.state.value == "ready"

    client.delete("app")
    assert gone(woken["pid"]), "deleted, but its process still runs"
    assert get(server, "svc/app/")[0] == 404


def test_update_follows_the_backends_strategy_and_a_failed_one_keeps_the_old(case: BackendCase,
                                                                               server: LiveServer) -> None:
    client = Client(server.url, server.token)
    client.put(case.spec("upd"), wait=60)
    old = answer(server, "upd")
    view = client.put(case.spec("upd", "2"), wait=60)
    assert view.status.state.value == "ready", view.status
    new = answer(server, "upd")
    assert new["version"] == "2" and new["pid"] != old["pid"]
    assert gone(old["pid"]), "the previous version still runs after the update"

    broken = {**case.spec("upd", "3"), "command": ["/bin/sh", "-c", "echo broken; exit 3"],
              "readiness": {"timeout": "5s"}}
    with pytest.raises(ApiError) as failed:
        client.put(broken, wait=60)
    assert failed.value.status_code == 503, failed.value
    assert "previous version" in str(failed.value)
    still = answer(server, "upd")
    assert still["version"] == "2"
    view = client.get("upd")
    assert view.status.state.value == "ready" and view.spec.env["VERSION"] == "2"
    client.delete("upd")


def test_a_crash_is_supervised_by_whoever_the_backend_says(case: BackendCase, server: LiveServer) -> None:
    client = Client(server.url, server.token)
    client.put(case.spec("crash"), wait=60)
    before = answer(server, "crash")
    os.kill(before["pid"], signal.SIGKILL)
    if case.supervises:  # its backend restarts it and reports the failure meanwhile, with its reason
        view = wait_state(client, "crash", {"failed"}, timeout=30)
        assert "CrashLoopBackOff" in view.status.message and "exited with code" in view.status.message
        assert get(server, "svc/crash/")[0] == 503  # at once, with the failure, no start of its own
    deadline = time.monotonic() + 60
    while (view := client.get("crash")).status.restarts < 1 or view.status.state.value != "ready":
        assert time.monotonic() < deadline, f"not restarted: {view.status}"
        time.sleep(0.05)
    after = answer(server, "crash")
    assert after["pid"] != before["pid"]
    client.delete("crash")


def test_a_server_restart_adopts_or_restarts_and_leaves_no_orphan(case: BackendCase, tmp_path: Path) -> None:
    with live_server(tmp_path, svc_config=case.svc_config, classes=case.classes) as first:
        client = Client(first.url, first.token)
        client.put(case.spec("kept"), wait=60)
        client.put(case.spec("dropped"), wait=60)
        kept, dropped = answer(first, "kept"), answer(first, "dropped")
    # a server that died between forgetting a spec and removing what runs it
    (first.state_dir / "services" / "dropped.json").unlink()
    if case.adopts:
        assert psutil.pid_exists(kept["pid"]), "an instance that outlives the server was stopped at shutdown"
    with live_server(tmp_path, svc_config=case.svc_config, classes=case.classes) as second:
        client = Client(second.url, second.token)
        view = wait_state(client, "kept", {"ready"})
        now = answer(second, "kept")
        if case.adopts:
            assert now["pid"] == kept["pid"], "adopted instances are not restarted"
            assert "adopted" in view.status.message
            assert (second.state_dir / "fake-cluster" / "kept.starts").read_text() == "1"
        else:
            assert now["pid"] != kept["pid"] and gone(kept["pid"], 0)
        assert [v.name for v in client.list()] == ["kept"]
        assert gone(dropped["pid"]), "an orphan of a forgotten service still runs"
        client.delete("kept")
        assert gone(now["pid"])


# ---------------------------------------------------------------- the local backend's own strategy
def test_the_local_backend_declares_its_update_strategy(tmp_path: Path) -> None:
    from jupyter_svc.backends.base import ServerInfo, UpdateStrategy
    from jupyter_svc.backends.local import LocalBackend
    from jupyter_svc.model.spec import ServiceSpec

    local = LocalBackend(ServerInfo(tmp_path, tmp_path))
    auto = ServiceSpec(name="a", command=["x"])
    assert local.update_strategy(auto, auto.model_copy(update={"env": {"V": "2"}})) is UpdateStrategy.side_by_side
    fixed = auto.model_copy(update={"port": 31999})
    assert local.update_strategy(auto, fixed) is UpdateStrategy.stop_then_start
    assert local.start_attempts > 1 and not local.supervises_itself and not local.outlives_server


async def test_a_fixed_port_update_stops_first_and_a_failed_one_restores_the_old(api: Any, fetch_json: Any) -> None:
    from notebook_helpers.server import free_port

    port = free_port()
    spec = {"name": "fixed", "port": port, "command": echo_command("--version", "1")}
    code, view = await api("POST", "services", spec, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    first = await fetch_json("svc/fixed/")
    code, view = await api("PUT", "services/fixed", {**spec, "command": echo_command("--version", "2")}, wait=30)
    assert code == 200 and view["status"]["state"] == "ready", view
    second = await fetch_json("svc/fixed/")
    assert second["version"] == "2" and second["pid"] != first["pid"]
    broken = {**spec, "command": ["/bin/sh", "-c", "exit 3"], "readiness": {"timeout": "3s"}}
    code, body = await api("PUT", "services/fixed", broken, wait=30)
    assert code == 503 and "previous version was restored" in body["message"], body
    code, view = await api("GET", "services/fixed")
    assert view["status"]["state"] == "ready" and "--version" in view["spec"]["command"], view
    assert (await fetch_json("svc/fixed/"))["version"] == "2"
    await api("DELETE", "services/fixed")


@pytest.fixture
def fetch_json(jp_http_port: int, jp_base_url: str, jp_auth_header: dict[str, str]) -> Callable[[str], Any]:
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest

    async def call(path: str) -> Any:
        request = HTTPRequest(f"http://127.0.0.1:{jp_http_port}{jp_base_url}{path}", headers=jp_auth_header,
                              request_timeout=60)
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
        assert response.code == 200, response.body
        return json.loads(response.body)

    return call


async def test_a_start_that_lost_its_picked_port_is_tried_again(api: Any, tmp_path: Path,
                                                               fetch_json: Callable[[str], Any]) -> None:
    """Instance.retryable (local: the app said its auto-picked port was taken) within start_attempts:
    the first start fails as if another process took the port, the second serves; no failure counts."""
    import shlex
    import sys

    flag = tmp_path / "first-start-done"
    app = " ".join(shlex.quote(a) for a in [sys.executable, *echo_command()[1:]])
    script = (f"if [ -e {shlex.quote(str(flag))} ]; then exec {app}; fi; touch {shlex.quote(str(flag))}; "
              "echo 'OSError: [Errno 98] Address already in use'; exit 1")
    code, view = await api("POST", "services", {"name": "clash", "command": script, "shell": True,
                                                "restart_policy": "never"}, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    assert flag.exists() and view["status"]["restarts"] == 0
    assert (await fetch_json("svc/clash/"))["method"] == "GET"
    code, logs = await api("GET", "services/clash/logs")
    assert "Address already in use" in logs
    await api("DELETE", "services/clash")
