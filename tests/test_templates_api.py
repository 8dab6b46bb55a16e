"""GET svc/api/templates and templates/{template}/spec on a real Jupyter server: what the lab
panel's template picker lists and fills in, and the 4xx that name a parameter."""

from __future__ import annotations

import os
import sys

from conftest import wait_for_state


async def test_templates_are_listed_with_their_parameters(api):
    code, body = await api("GET", "templates")
    assert code == 200, body
    by_name = {t["name"]: t for t in body["templates"]}
    assert {"streamlit", "panel", "voila", "fastapi", "http", "command"} <= set(by_name)
    streamlit = by_name["streamlit"]
    assert streamlit["description"] and streamlit["framework"] == "streamlit"
    assert streamlit["params"] == [{"name": "script", "help": "path of the app's Python file", "default": None,
                                    "required": True, "kind": "path"}]
    assert by_name["http"]["available"] is True  # no framework to import
    assert [p["name"] for p in by_name["fastapi"]["params"]] == ["app", "cwd"]


async def test_a_template_makes_a_spec_that_runs(api, jp_serverapp):
    root = os.path.realpath(jp_serverapp.root_dir)
    os.makedirs(os.path.join(root, "site"), exist_ok=True)
    with open(os.path.join(root, "site", "index.html"), "w") as f:
        f.write("<h1>from a template</h1>")
    code, body = await api("GET", "templates/http/spec", directory="site")
    assert code == 200, body
    spec = body["spec"]
    assert "name" not in spec and body["template"] == "http"
    # a relative path is from the server's root folder, where a service without cwd runs
    assert spec["command"] == [sys.executable, "-m", "http.server", "{port}", "--bind", "127.0.0.1",
                               "--directory", os.path.join(root, "site")]
    assert spec["labels"] == {"jupyter-svc/template": "http"}
    code, view = await api("POST", "services", {**spec, "name": "fromtemplate"}, wait=30)
    assert code == 201 and view["status"]["state"] == "ready", view
    await wait_for_state(api, "fromtemplate", {"ready"})


async def test_bad_parameters_are_422s_naming_the_parameter(api):
    code, body = await api("GET", "templates/streamlit/spec")
    assert code == 422 and [e["field"] for e in body["errors"]] == ["params.script"], body
    code, body = await api("GET", "templates/streamlit/spec", script="app.py", colour="red")
    assert code == 422 and [e["field"] for e in body["errors"]] == ["params.colour"], body
    code, body = await api("GET", "templates/command/spec", command="python 'unclosed", rewrite_path="true")
    assert code == 422 and body["errors"][0]["field"] == "params.command", body
    code, body = await api("GET", "templates/command/spec", command="python -V", rewrite_path="maybe")
    assert code == 422 and body["errors"][0]["field"] == "params.rewrite_path", body
    code, body = await api("GET", "templates/command/spec", command="python -m http.server {port}",
                           rewrite_path="false")
    assert code == 200 and body["spec"]["command"] == ["python", "-m", "http.server", "{port}"], body
    assert body["spec"]["rewrite_path"] is False
    # JupyterLab's requests carry a bare cache-busting argument (`&1796204768180`): not a parameter
    code, body = await api("GET", "templates/streamlit/spec", script="app.py", **{"1796204768180": ""})
    assert code == 200 and body["spec"]["command"][1:4] == ["-m", "streamlit", "run"], body
    code, body = await api("GET", "templates/nosuch/spec")
    assert code == 404 and "no template 'nosuch'" in body["message"], body


async def test_the_socket_form_when_the_backend_prefers_sockets(api, jp_serverapp):
    """c.LocalBackend.prefer_unix_sockets, set on the running server's backend: the picker gets
    the form %svc would use (panel serve --unix-socket), a template without one keeps its port."""
    backend = jp_serverapp.web_app.settings["jupyter_svc_manager"].backends["local"]
    code, body = await api("GET", "templates/panel/spec", script="app.py")
    assert code == 200 and "--port" in body["spec"]["command"], body
    backend.prefer_unix_sockets = True
    code, body = await api("GET", "templates/panel/spec", script="app.py")
    assert code == 200 and body["spec"]["command"][5:7] == ["--unix-socket", "{unix_socket}"], body
    code, body = await api("GET", "templates/http/spec")
    assert code == 200 and "{port}" in body["spec"]["command"], body
