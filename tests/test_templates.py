"""Templates: each builds a valid spec; each whose framework is installed serves a real app through
the proxy of a live server (the others are skipped, saying which package is missing)."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import ECHO_APP
from notebook_helpers.fixtures import fetch_until, live
from notebook_helpers.server import LiveServer

from jupyter_svc.client import Client
from jupyter_svc.model.spec import ServiceSpec
from jupyter_svc.notebook.templates import ENTRY_POINT_GROUP, Registry, Template, builtin_templates, get_template

__all__ = ["live"]

NAMES = [t.name for t in builtin_templates()]


def params_for(name: str, folder: Path) -> dict[str, Any]:
    """A minimal real app for each template, written to ``folder``; returns the template parameters."""
    def write(file: str, code: str) -> str:
        path = folder / file
        path.write_text(textwrap.dedent(code))
        return str(path)

    if name == "streamlit":
        return {"script": write("st_app.py", "import streamlit as st\nst.title('hi')\n")}
    if name == "voila":
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('hello-voila')")])
        (folder / "nb.ipynb").write_text(nbformat.writes(nb))
        return {"notebook": str(folder / "nb.ipynb")}
    if name in ("panel", "bokeh"):
        code = ("import panel as pn\npn.panel('hello-panel').servable()\n" if name == "panel" else
                "from bokeh.io import curdoc\nfrom bokeh.models import Div\ncurdoc().add_root(Div(text='hi'))\n")
        return {"script": write("app.py", code)}
    if name == "dash":
        return {"script": write("dash_app.py", """
            from dash import Dash, html
            app = Dash(__name__)
            app.layout = html.Div('hello-dash')
            if __name__ == '__main__':
                app.run()
            """)}
    if name == "gradio":
        return {"script": write("gr_app.py", "import gradio as gr\ndemo = gr.Interface(lambda x: x, 'text', 'text')\n")}
    if name == "fastapi":
        write("main.py", "from fastapi import FastAPI\napp = FastAPI()\n@app.get('/')\ndef root():\n"
                         "    return {'hello': 'fastapi'}\n")
        return {"app": "main:app", "cwd": str(folder)}
    if name == "tensorboard":
        return {"logdir": str(folder)}
    if name == "mlflow":
        return {"store": f"sqlite:///{folder / 'mlflow.db'}"}
    if name == "http":
        (folder / "index.html").write_text("<p>hello-http</p>")
        return {"directory": str(folder)}
    return {"command": [sys.executable, ECHO_APP, "{port}", "--version", "hello-command"]}


#: Pages to ask for under /svc/<name>/ and what each contains (case-insensitive; {svc} is the
#: service's name): the second page or an absolute link proves the app knows its URL prefix.
EXPECT: dict[str, list[tuple[str, str]]] = {
    "streamlit": [("", "streamlit"), ("_stcore/health", "ok")],
    "voila": [("", "hello-voila")],
    "panel": [("app", "static/js/bokeh.min.js"), ("static/js/bokeh.min.js", "bokeh")],
    "bokeh": [("app", "/svc/{svc}/static/js/bokeh.min.js")],
    "dash": [("", "/svc/{svc}/_dash-component-suites"), ("_dash-layout", "hello-dash")],
    "gradio": [("", "/svc/{svc}/gradio_api"), ("config", '"api_prefix"')],
    "fastapi": [("", '"hello":"fastapi"'), ("docs", "/svc/{svc}/openapi.json")],
    "tensorboard": [("", "tensorboard"), ("data/logdir", '"logdir"')],
    "mlflow": [("", "static-files"), ("health", "ok"),
               ("ajax-api/2.0/mlflow/experiments/search?max_results=1", '"name": "default"')],
    "http": [("", "hello-http")],
    "command": [("", "hello-command")],
}


@pytest.mark.parametrize("name", NAMES)
def test_every_template_builds_a_valid_spec(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    template = get_template(name)
    spec = template.spec(f"t-{name}", params_for(name, tmp_path), {"scale_to_zero": "5m"})
    assert isinstance(spec, ServiceSpec) and spec.scale_to_zero == 300
    assert spec.labels["jupyter-svc/template"] == name
    text = json.dumps(spec.model_dump(mode="json"))
    if not spec.rewrite_path:  # the app serves under the prefix itself: it must be told the prefix
        assert "{base_url}" in text, name
    if template.source_param:
        assert template.source_file and any(p.name == template.source_param for p in template.params)
    assert EXPECT.keys() == set(NAMES)


def test_parameters_are_checked_and_paths_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    streamlit = get_template("streamlit")
    with pytest.raises(ValueError, match="template 'streamlit' needs script"):
        streamlit.spec("a")
    with pytest.raises(ValueError, match=r"has no parameter port \(it takes: script\)"):
        streamlit.spec("a", {"script": "x.py", "port": 1})
    spec = streamlit.spec("a", {"script": "app.py"})
    assert isinstance(spec.command, list) and str(tmp_path / "app.py") in spec.command
    assert spec.cwd == str(tmp_path)
    shell = get_template("command").spec("b", {"command": "exec python -m http.server {port}"})
    assert spec.readiness.path == "/_stcore/health" and shell.shell and shell.rewrite_path
    with pytest.raises(KeyError, match=r"no template 'nope' \(known: bokeh, command"):
        get_template("nope")


@pytest.fixture
def plugin_path(tmp_path: Path) -> Iterator[Path]:
    """A real installed distribution (a .dist-info folder on sys.path) declaring entry points."""
    (tmp_path / "svc_plugin_demo.py").write_text(textwrap.dedent("""
        from jupyter_svc.notebook.templates import Param, Template
        TEMPLATE = Template("hello", "says hello", lambda v: {"command": ["echo", v["who"]]},
                            (Param("who", "whom to greet", "world"),))
        def broken():
            raise RuntimeError("plugin bug")
        """))
    info = tmp_path / "svc_plugin_demo-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: svc-plugin-demo\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{ENTRY_POINT_GROUP}]\nhello = svc_plugin_demo:TEMPLATE\nbroken = svc_plugin_demo:broken\n")
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    sys.modules.pop("svc_plugin_demo", None)


def test_entry_point_templates(plugin_path: Path) -> None:
    registry = Registry()
    hello = registry.get("hello")
    assert hello.spec("greet", {"who": "jupyter"}).command == ["echo", "jupyter"]
    assert "streamlit" in registry.names()
    assert registry.problems == ["template entry point 'broken': plugin bug"]
    registry.register(Template("mine", "at run time", lambda v: {"command": ["true"]}))
    assert registry.get("mine").spec("m").command == ["true"]


@pytest.mark.parametrize("name", NAMES)
def test_template_serves_a_real_app_through_the_proxy(name: str, live: LiveServer, tmp_path: Path) -> None:
    template = get_template(name)
    if not template.available():
        pytest.skip(f"{template.framework} is not installed (the {name} template needs it)")
    client = Client(live.url, live.token)
    service = f"tpl-{name}"
    view = client.put(template.spec_dict(service, params_for(name, tmp_path)), wait=120)
    try:
        assert view.status.state.value == "ready", f"{view.status.message}\n{client.logs(service, 30)}"
        for path, marker in EXPECT[name]:
            body = fetch_until(live, f"svc/{service}/{path}", "", timeout=60)
            assert marker.format(svc=service).lower() in body.lower(), (path, body[:500])
    finally:
        client.delete(service)


SOCKET_NAMES = [t.name for t in builtin_templates() if t.socket_build is not None]


def test_templates_that_can_listen_on_a_socket_say_so() -> None:
    assert set(SOCKET_NAMES) == {"bokeh", "panel", "fastapi"}
    for name in SOCKET_NAMES:
        spec = get_template(name).spec_dict("s", params_for(name, Path("/tmp")), unix_socket=True)
        argv = " ".join(spec["command"])
        assert "{unix_socket}" in argv and "{port}" not in argv, argv
    streamlit = get_template("streamlit").spec_dict("s", {"script": "/tmp/a.py"}, unix_socket=True)
    assert "{port}" in streamlit["command"]  # no socket option: it keeps its port


@pytest.mark.parametrize("name", SOCKET_NAMES)
def test_template_serves_a_real_app_on_a_unix_socket(name: str, live: LiveServer, tmp_path: Path) -> None:
    template = get_template(name)
    if not template.available():
        pytest.skip(f"{template.framework} is not installed (the {name} template needs it)")
    client = Client(live.url, live.token)
    service = f"sock-{name}"
    view = client.put(template.spec_dict(service, params_for(name, tmp_path), unix_socket=True), wait=120)
    try:
        assert view.status.state.value == "ready", f"{view.status.message}\n{client.logs(service, 30)}"
        assert view.status.endpoint.startswith("http+unix://"), view.status.endpoint
        for path, marker in EXPECT[name]:
            body = fetch_until(live, f"svc/{service}/{path}", "", timeout=60)
            assert marker.format(svc=service).lower() in body.lower(), (path, body[:500])
    finally:
        client.delete(service)
