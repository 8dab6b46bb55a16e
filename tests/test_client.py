"""The Python client against real servers: a `jupyter server` subprocess for the blocking client and
server discovery, the in-process pytest-jupyter server (lead's fixtures) for the async client."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import echo_command
from notebook_helpers.fixtures import fetch, live
from notebook_helpers.server import LiveServer, live_server

from jupyter_svc.client.api_calls import RestCalls, api_call
from jupyter_svc.client.clients import ApiError, ApplyReport, AsyncClient, Client, ServerNotFound
from jupyter_svc.client.discovery import candidates, runtime_servers
from jupyter_svc.model.status import ServiceState, ServiceView

__all__ = ["live"]


def test_sync_client_covers_the_api(live: LiveServer) -> None:
    client = Client(live.url, live.token)
    view = client.create({"name": "cl-echo", "command": echo_command("--version", "a")}, wait=30)
    assert isinstance(view, ServiceView) and view.status.state is ServiceState.ready
    assert client.link(view) == f"{live.url}svc/cl-echo/"
    assert [v.name for v in client.list()] == ["cl-echo"]
    assert client.get("cl-echo").spec.command == echo_command("--version", "a")

    updated = client.update("cl-echo", {"env": {"DEMO_X": "1"}, "scale_to_zero": "5m"}, wait=30)
    assert updated.status.generation > view.status.generation and updated.spec.scale_to_zero == 300
    assert json.loads(fetch(live, "svc/cl-echo/")[1])["env"]["DEMO_X"] == "1"
    assert "echo app version a listening" in client.logs("cl-echo", 50)

    lines = []
    for line in client.follow_logs("cl-echo", tail=3, timeout=1.0):
        lines.append(line)
    assert any("listening" in line or "request" in line for line in lines)

    assert client.stop("cl-echo", wait=30).status.state is ServiceState.scaled_to_zero
    assert client.wake("cl-echo", wait=30).status.state is ServiceState.ready
    assert client.restart("cl-echo", wait=30).status.restarts >= 1
    assert client.disable("cl-echo", wait=30).status.state is ServiceState.disabled
    assert client.enable("cl-echo", wait=30).status.state is ServiceState.ready

    plan = client.apply({"services": [{"name": "cl-two", "command": echo_command()}]}, dry_run=True)
    assert isinstance(plan, ApplyReport) and plan.dry_run and plan.results[0].name == "cl-two"
    with pytest.raises(ApiError) as missing:
        client.get("cl-two")
    assert missing.value.status_code == 404
    report = client.apply([{"name": "cl-two", "command": echo_command()}], wait=30)
    assert report.ok and [(r.name, r.action) for r in report.results] == [("cl-two", "created")]

    assert "name" in client.schema()["properties"]
    assert any("services" in path for path in client.openapi()["paths"])
    client.delete("cl-echo")
    client.delete("cl-two")
    assert client.list() == []


def test_sync_events(live: LiveServer) -> None:
    """The SSE stream: the current services first, then each change and the deletion."""
    client = Client(live.url, live.token)
    client.create({"name": "ev-one", "command": echo_command()}, wait=30)

    def later() -> None:
        time.sleep(0.5)
        client.stop("ev-one", wait=30)
        client.delete("ev-one")

    thread = threading.Thread(target=later)
    thread.start()
    seen = []
    for event in client.events(timeout=20):
        seen.append((event.kind, event.name, event.view.status.state.value if event.view else None))
        if event.kind == "deleted":
            break
    thread.join()
    assert seen[0] == ("service", "ev-one", "ready")
    assert ("service", "ev-one", "scaled_to_zero") in seen and seen[-1] == ("deleted", "ev-one", None)


def test_errors_carry_status_and_field_details(live: LiveServer) -> None:
    client = Client(live.url, live.token)
    with pytest.raises(ApiError) as invalid:
        client.create({"name": "cl-bad", "command": ["x"], "scale_to_zero": "soon", "port": 70000})
    fields = {e.field for e in invalid.value.errors}
    assert invalid.value.status_code == 422 and {"scale_to_zero", "port"} <= fields
    assert "scale_to_zero: " in str(invalid.value)
    client.create({"name": "cl-dup", "command": echo_command()}, wait=30)
    with pytest.raises(ApiError) as conflict:
        client.create({"name": "cl-dup", "command": echo_command()})
    assert conflict.value.status_code == 409
    with pytest.raises(ApiError) as unknown:
        client.restart("cl-nope")
    assert unknown.value.status_code == 404 and "cl-nope" in unknown.value.message
    client.delete("cl-dup")


def test_discovery_from_runtime_files(live: LiveServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No env vars: the client reads jpserver-*.json like `jupyter server list`, preferring the root
    that contains the cwd."""
    for var in ("JUPYTER_SVC_URL", "JUPYTER_SVC_TOKEN", "JUPYTER_SERVER_URL", "JUPYTER_TOKEN", "JPY_API_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    [real] = list(live.runtime_dir.glob("jpserver-*.json"))
    (runtime / real.name).write_text(real.read_text())
    # a live process (this one) serving another root, and a dead one: neither may win
    other = {"url": "http://127.0.0.1:9/", "token": "x", "root_dir": str(tmp_path / "elsewhere"), "pid": os.getpid()}
    (runtime / "jpserver-1.json").write_text(json.dumps(other))
    (runtime / "jpserver-2.json").write_text(json.dumps({**other, "root_dir": "/", "pid": 2**22 + 12345}))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.chdir(live.root_dir)
    found = runtime_servers()
    assert [s.url for s in found] == [live.url, "http://127.0.0.1:9/"]
    client = Client()
    assert client.server.url == live.url and client.server.token == live.token
    assert client.list() is not None


def test_environment_variables_win(live: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUPYTER_SVC_URL", live.url.rstrip("/"))
    monkeypatch.setenv("JUPYTER_SVC_TOKEN", live.token)
    monkeypatch.setenv("JUPYTER_SERVER_URL", "http://127.0.0.1:9/")
    assert [c.source for c in candidates()][:2] == ["JUPYTER_SVC_URL", "JUPYTER_SERVER_URL"]
    assert Client().server.source == "JUPYTER_SVC_URL"
    monkeypatch.delenv("JUPYTER_SVC_URL")
    monkeypatch.setenv("JUPYTER_SERVER_URL", live.url)
    monkeypatch.setenv("JUPYTER_TOKEN", live.token)
    assert Client().server.source == "JUPYTER_SERVER_URL"


def test_no_server_is_one_clear_sentence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("JUPYTER_SVC_URL", "JUPYTER_SERVER_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(ServerNotFound) as exc:
        Client().list()
    message = str(exc.value)
    assert message.startswith("No Jupyter server with jupyter-svc is reachable")
    assert "jupyter lab" in message and "JUPYTER_SVC_URL" in message and message.count(". ") == 0
    with pytest.raises(ServerNotFound, match="refused"):
        Client("http://127.0.0.1:9/").list()


def test_server_without_the_extension_or_with_a_wrong_token(tmp_path: Path, live: LiveServer) -> None:
    with live_server(tmp_path, extension=False) as plain, pytest.raises(ServerNotFound) as exc:
        Client(plain.url, plain.token).list()
    assert "the jupyter-svc extension is not enabled there" in str(exc.value)
    with pytest.raises(ServerNotFound, match="the token is missing or wrong"):
        Client(live.url, "wrong").list()


def test_runtime_files_are_read_as_jupyter_server_reads_them(tmp_path: Path) -> None:
    """Discovery reads the runtime files with the rules of jupyter_server's list_running_servers
    (`jupyter server list`): a dead server's file and a pid-less one are skipped; both answer the
    same servers. Discovery never imports jupyter_server, and removes nobody's file."""
    from jupyter_server.serverapp import list_running_servers

    runtime, project = tmp_path / "runtime", tmp_path / "project" / "sub"
    runtime.mkdir()
    project.mkdir(parents=True)
    files = {
        f"jpserver-{os.getpid()}.json": {"url": "http://127.0.0.1:9/mine/", "pid": os.getpid(),
                                         "root_dir": str(tmp_path / "project")},
        f"jpserver-{os.getppid()}.json": {"url": "http://127.0.0.1:9/top/", "pid": os.getppid(), "root_dir": "/"},
        "jpserver-4206657.json": {"url": "http://127.0.0.1:9/dead/", "pid": 2**22 + 12345},
        "jpserver-nopid.json": {"url": "http://127.0.0.1:9/nopid/"},
        "jpserver-broken.json": "{not json",
    }
    for name, info in files.items():
        (runtime / name).write_text(info if isinstance(info, str) else json.dumps(info))
    code = ("import json, sys\n"
            "from jupyter_svc.client.discovery import runtime_servers\n"
            "urls = [s.url for s in runtime_servers(sys.argv[1])]\n"
            "print(json.dumps([urls, 'jupyter_server' in sys.modules]))")
    done = subprocess.run([sys.executable, "-c", code, str(runtime)], cwd=project, capture_output=True,
                          text=True, timeout=60, check=True)
    urls, imported = json.loads(done.stdout)
    assert [url.rsplit("/", 2)[1] for url in urls] == ["mine", "top"]  # closest root_dir first
    assert not imported
    assert sorted(p.name for p in runtime.iterdir()) == sorted(files)  # removes nothing
    (runtime / "jpserver-broken.json").unlink()  # list_running_servers raises on it
    theirs = {info["url"] for info in list_running_servers(str(runtime))}
    assert theirs == set(urls)


def test_a_kernel_with_the_url_never_imports_jupyter_server(live: LiveServer) -> None:
    """JUPYTER_SVC_URL answers: the runtime files (and jupyter_server, slow to import) are not read."""
    code = "import sys; from jupyter_svc.client import Client; Client().list(); print('jupyter_server' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=live.client_env(), capture_output=True, text=True,
                          timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "False"), done.stderr


def test_each_call_is_written_once_for_both_clients() -> None:
    """Every entry of RestCalls is a method of both clients with the same signature and docstring:
    blocking on Client, a coroutine function on AsyncClient."""
    entries = {name for name, value in vars(RestCalls).items() if isinstance(value, api_call)}
    assert {"list", "get", "create", "put", "update", "delete", "restart", "scale", "stop", "logs",
            "apply", "schema", "openapi"} <= entries
    sync, async_ = Client("http://127.0.0.1:9/"), AsyncClient("http://127.0.0.1:9/")
    for name in entries:
        blocking, awaited = getattr(sync, name), getattr(async_, name)
        assert inspect.signature(blocking) == inspect.signature(awaited), name
        assert blocking.__doc__ == awaited.__doc__ and blocking.__doc__, name
        assert inspect.iscoroutinefunction(awaited) and not inspect.iscoroutinefunction(blocking), name
    create = inspect.signature(sync.create)
    assert list(create.parameters) == ["spec", "wait"] and create.return_annotation is ServiceView
    assert inspect.signature(sync.delete).return_annotation is None


def test_mypy_types_the_callers(tmp_path: Path) -> None:
    """The calls are typed for mypy: arguments and answers of both clients are checked."""
    snippet = tmp_path / "caller.py"
    snippet.write_text(
        "from jupyter_svc.client import AsyncClient, Client\n"
        "from jupyter_svc.model.status import ServiceView\n"
        "def ok(c: Client) -> ServiceView:\n"
        "    return c.create({'name': 'x'}, wait=3)\n"
        "async def aok(c: AsyncClient) -> ServiceView:\n"
        "    return await c.scale('x', 2, wait=None)\n"
        "def bad(c: Client, a: AsyncClient) -> None:\n"
        "    wrong: str = c.get('x')\n"
        "    c.scale('x', 'two')\n"
        "    also: ServiceView = a.get('x')\n")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                           "--config-file", str(Path(__file__).parent.parent / "pyproject.toml"), str(snippet)],
                          capture_output=True, text=True, timeout=300)
    errors = [line.split(": error: ", 1)[1] for line in done.stdout.splitlines() if ": error: " in line]
    assert len(errors) == 3, done.stdout
    assert 'has type "ServiceView", variable has type "str"' in errors[0]
    assert 'Argument 2 has incompatible type "str"; expected "int"' in errors[1]
    assert 'has type "Coroutine[Any, Any, ServiceView]", variable has type "ServiceView"' in errors[2]


# -- the async client, in the same event loop as the in-process server -----------------------------

@pytest.fixture
def aclient(svc_started: Any, jp_fetch: Any, jp_http_port: int, jp_base_url: str) -> AsyncClient:
    """jp_fetch brings up pytest-jupyter's HTTP listener; the client then talks to it over TCP."""
    return AsyncClient(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", svc_started.identity_provider.token)


async def test_async_client(aclient: AsyncClient) -> None:
    view = await aclient.create({"name": "ac-echo", "command": echo_command()}, wait=30)
    assert view.status.state is ServiceState.ready
    assert [v.name for v in await aclient.list()] == ["ac-echo"]
    assert (await aclient.get("ac-echo")).name == "ac-echo"
    assert "listening" in await aclient.logs("ac-echo")
    lines = []
    async with contextlib.aclosing(aclient.follow_logs("ac-echo", tail=5)) as follow:
        async for line in follow:
            lines.append(line)
            if "listening" in line:
                break
    assert any("listening" in line for line in lines)
    assert (await aclient.stop("ac-echo", wait=30)).status.state is ServiceState.scaled_to_zero
    assert (await aclient.wake("ac-echo", wait=30)).status.state is ServiceState.ready
    assert (await aclient.update("ac-echo", {"description": "d"}, wait=30)).spec.description == "d"
    assert (await aclient.put({"name": "ac-echo", "command": echo_command("--version", "2")}, wait=30)).spec.command
    report = await aclient.apply({"services": []}, mode="replace", wait=30)
    assert report.ok and [(r.name, r.action) for r in report.results] == [("ac-echo", "deleted")]
    with pytest.raises(ApiError) as exc:
        await aclient.create({"name": "ac-bad", "command": [sys.executable], "resources": {"limits": {"cpu": "x"}}})
    assert exc.value.status_code == 422 and exc.value.errors[0].field == "resources.limits.cpu"
    assert "properties" in await aclient.schema()
    events = aclient.events()
    creating = asyncio.ensure_future(aclient.create({"name": "ac-ev", "command": echo_command()}, wait=30))

    async def first_view() -> ServiceView:
        async for event in events:
            if event.name == "ac-ev" and event.view is not None:
                return event.view
        raise AssertionError("the event stream ended")

    assert (await asyncio.wait_for(first_view(), 30)).name == "ac-ev"
    await creating
    await events.aclose()
    await aclient.delete("ac-ev")
    await aclient.create({"name": "ac-gone", "command": echo_command()}, wait=30)
    await aclient.delete("ac-gone")
    assert await aclient.list() == []


async def test_async_client_without_a_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JUPYTER_SVC_URL", raising=False)
    monkeypatch.delenv("JUPYTER_SERVER_URL", raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(ServerNotFound, match="No Jupyter server with jupyter-svc is reachable"):
        await AsyncClient().list()
    with pytest.raises(ServerNotFound, match=r"127\.0\.0\.1:9/ \(argument\)"):
        await AsyncClient("http://127.0.0.1:9/").list()
