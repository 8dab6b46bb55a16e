"""ServiceForm and ServiceBoard driven from Python (set values, click) against a live server.

The widgets run without a frontend here (ipywidgets then uses no comm), which is all a click needs;
the services they act on are real.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import echo_command
from notebook_helpers.fixtures import api, fetch, live, run_notebook
from notebook_helpers.server import LiveServer

from jupyter_svc.client import Client
from jupyter_svc.model.spec import spec_json_schema
from jupyter_svc.model.status import ServiceState
from jupyter_svc.notebook.widgets.schema_fields import UNSET, ListField, MapField, ObjectField
from jupyter_svc.widgets import ServiceBoard, ServiceForm

__all__ = ["live"]


@pytest.fixture
def client(live: LiveServer) -> Client:
    return Client(live.url, live.token)


def test_form_is_generated_from_the_schema() -> None:
    """Every top-level property gets a field, nested models and lists too; no per-field code."""
    schema = spec_json_schema()
    form = ServiceForm(Client("http://127.0.0.1:9/"), schema=schema)  # given a schema, it asks no server
    top = {f.path for fields in form.sections.values() for f in fields}
    assert top == set(schema["properties"])
    assert isinstance(form["resources"], ObjectField) and "resources.limits.memory" in form.fields
    assert isinstance(form["env"], MapField) and isinstance(form["volumes"], ListField)
    assert list(form.sections) == ["basic", "resources", "scaling", "advanced"]
    form["volumes"].append({"claim": "data", "mount_path": "/data"})  # type: ignore[attr-defined]
    assert form["volumes[0].mount_path"].value == "/data"
    form.set_values({"name": "x", "command": "python -m http.server {port}", "scale_to_zero": "5m",
                     "env": {"A": "1"}, "readiness.path": "/health", "port": "8080"})
    spec = form.spec()
    assert spec["command"] == ["python", "-m", "http.server", "{port}"] and spec["port"] == 8080
    assert spec["env"] == {"A": "1"} and spec["readiness"] == {"path": "/health"}
    assert spec["volumes"] == [{"claim": "data", "mount_path": "/data"}]
    assert "replicas" not in spec and form["replicas"].value is UNSET  # defaults stay the server's


def test_form_submit_shows_field_errors_then_creates(live: LiveServer, client: Client) -> None:
    form = ServiceForm(client)
    form.set_values({"name": "wf-echo", "command": " ".join(echo_command()), "resources.requests.memory": "lots",
                     "scale_to_zero": "10m"})
    form.submit_button.click()
    error = form["resources.requests.memory"].error.value
    assert "'lots' is not a Kubernetes quantity" in error
    assert form.accordion.selected_index == list(form.sections).index("resources")
    assert "invalid service spec" in form.message.value
    assert api(live, "GET", "services/wf-echo")[0] == 404

    form["resources.requests.memory"].set("")
    form.submit_button.click()
    assert form["resources.requests.memory"].error.value == ""
    assert "ready" in form.result.value and "/svc/wf-echo/" in form.result.value
    assert fetch(live, "svc/wf-echo/")[0] == 200
    assert client.get("wf-echo").spec.scale_to_zero == 600

    edit = ServiceForm(client, edit="wf-echo")
    assert edit["name"].input.disabled and edit.submit_button.description == "save"
    edit.set_values({"description": "edited"})
    edit.submit_button.click()
    assert client.get("wf-echo").spec.description == "edited"
    assert client.get("wf-echo").spec.scale_to_zero == 600  # kept: the form loaded it
    client.delete("wf-echo")


def test_board_buttons_act_on_a_real_service(live: LiveServer, client: Client) -> None:
    client.create({"name": "wb-echo", "command": echo_command()}, wait=30)
    board = ServiceBoard(client, auto=False)
    row = board.rows["wb-echo"]
    assert "ready" in row.state.value and "/svc/wb-echo/" in row.link.value

    row.buttons["stop"].click()
    assert client.get("wb-echo").status.state is ServiceState.scaled_to_zero
    assert "scaled_to_zero" in row.state.value and row.buttons["stop"].disabled
    row.buttons["wake"].click()
    assert client.get("wb-echo").status.state is ServiceState.ready
    row.buttons["restart"].click()
    assert client.get("wb-echo").status.restarts >= 1
    row.buttons["disable"].click()
    assert client.get("wb-echo").status.state is ServiceState.disabled
    assert row.buttons["disable"].description == "enable"
    row.buttons["disable"].click()
    assert client.get("wb-echo").status.state is ServiceState.ready
    row.buttons["logs"].click()
    assert "echo app version 1 listening" in board.logs.value

    row.buttons["delete"].click()
    assert client.get("wb-echo").name == "wb-echo"  # only asked
    keep = row.confirm.children[1]
    keep.click()
    assert row.confirm.children == ()
    row.buttons["delete"].click()
    row.confirm.children[0].click()
    assert client.list() == [] and board.rows == {}
    assert "No services yet" in board.body.children[0].value


def test_board_refreshes_itself_on_the_event_loop(live: LiveServer, client: Client) -> None:
    """Changes made elsewhere (another client) appear and disappear without a click."""
    async def until(board: ServiceBoard, present: bool) -> bool:
        for _ in range(100):
            row = board.rows.get("wb-late")
            if (row is not None and ">ready<" in row.state.value) if present else row is None:
                return True
            await asyncio.sleep(0.1)
        return False

    async def scenario() -> tuple[bool, bool, str]:
        board = ServiceBoard(client, interval=0.2)
        assert board._task is not None
        await asyncio.to_thread(client.create, {"name": "wb-late", "command": echo_command()}, 30)
        appeared = await until(board, True)
        state = board.rows["wb-late"].state.value if appeared else ""
        await asyncio.to_thread(client.delete, "wb-late")
        gone = await until(board, False)
        board.stop()
        return appeared, gone, state

    appeared, gone, state = asyncio.run(scenario())
    assert appeared and gone and "ready" in state


def test_widgets_in_a_kernel(live: LiveServer) -> None:
    """The same classes in a real kernel, finding the server by themselves."""
    results = run_notebook(live, [
        "from jupyter_svc.widgets import ServiceForm, ServiceBoard\nform = ServiceForm()\nform",
        "form.set_values({'name': 'wk-one', 'command': 'python -m http.server {port} --bind 127.0.0.1'})\n"
        "view = form.submit(); print(view.status.state.value)",
        "board = ServiceBoard(interval=0.5)\nboard",
        "board.rows['wk-one'].buttons['stop'].click(); print(board.rows['wk-one'].view.status.state.value)",
        "board.stop(); from jupyter_svc.client import Client; Client().delete('wk-one')",
    ])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    assert "application/vnd.jupyter.widget-view+json" in results[0].mimes  # shown as a widget
    assert "application/vnd.jupyter.widget-view+json" in results[2].mimes
    assert results[1].stdout.strip() == "ready"
    assert results[3].stdout.strip() == "scaled_to_zero"


def test_board_shows_each_lifetime(live: LiveServer, client: Client) -> None:
    """The row says when the keep-warm schedule changes and when the service expires, as `%svc list` does."""
    client.create({"name": "wb-life", "command": echo_command(), "expires_after": "3h",
                   "keep_warm": [{"start": "0 8 * * 1-5", "end": "0 18 * * 1-5", "timezone": "Europe/Paris"}]},
                  wait=30)
    board = ServiceBoard(client, auto=False)
    info = board.rows["wb-life"].info.value
    assert "expires in 3h" in info or "expires in 2h59m" in info, info
    assert "warm" in info, info
    client.delete("wb-life")
