"""%svc / %%svc in a real ipykernel (run by nbclient) against a real `jupyter server` subprocess.

The kernel finds the server through JUPYTER_SVC_URL/JUPYTER_SVC_TOKEN, as a kernel started by the
server would; services are real child processes reached through the server's proxy.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from notebook_helpers.fixtures import api, fetch, fetch_until, live, run_notebook
from notebook_helpers.server import LiveServer

from jupyter_svc.notebook.magic_args import COMMANDS, UsageError, merge_patch, parse

__all__ = ["live"]  # the fixture, imported for pytest

ECHO = str(Path(__file__).parent / "apps" / "echo_app.py")
PY = sys.executable


def test_done_when_flow(live: LiveServer) -> None:
    """create, list, logs, restart, stop, wake through the URL, delete: each one line in a notebook."""
    results = run_notebook(live, [
        "%load_ext jupyter_svc",
        f"%svc create nbweb --idle 10m -- {PY} {ECHO} {{port}} --version one",
        "%svc list",
        "%svc logs nbweb --tail 5",
        "%svc restart nbweb",
        "%svc stop nbweb",
        # the proxy wakes it: a plain request with the token, as a browser with a cookie would
        "import os, json, urllib.request\n"
        "req = urllib.request.Request(os.environ['JUPYTER_SVC_URL'] + 'svc/nbweb/hello',\n"
        "    headers={'Authorization': 'token ' + os.environ['JUPYTER_SVC_TOKEN']})\n"
        "answer = json.load(urllib.request.urlopen(req, timeout=60))\n"
        "print(answer['path'], answer['version'])",
        "%svc get nbweb --json",
        "%svc open nbweb",
        "%svc delete nbweb",
        "%svc list",
    ])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    load, create, listing, logs, restart, stop, wake, get, link, delete, empty = results
    assert "nbweb: ready" in create.text and "/svc/nbweb/" in create.text
    assert "<table class='jupyter-svc-list'>" in listing.html and "nbweb" in listing.html
    assert "background:#2e7d32" in listing.html  # ready, in green
    assert "echo app version one listening" in logs.stdout
    assert "nbweb: ready" in restart.text
    assert "nbweb: scaled_to_zero" in stop.text
    assert wake.stdout.strip() == "/hello one"  # rewrite_path strips /svc/nbweb
    view = json.loads(get.stdout)
    assert view["status"]["state"] == "ready" and view["status"]["restarts"] >= 1
    assert view["status"]["cold_starts"] >= 1
    assert '<a href="http://127.0.0.1' in link.html and "/svc/nbweb/" in link.html
    assert "deleted nbweb" in delete.stdout
    assert "No services yet" in empty.text
    assert api(live, "GET", "services/nbweb")[0] == 404


def test_bad_arguments_print_usage_not_tracebacks(live: LiveServer) -> None:
    """Each failure fails its cell (so Run All stops) with a short message, never a Python traceback."""
    results = run_notebook(live, [
        "%load_ext jupyter_svc",
        "%svc scale web",
        "%svc frobnicate",
        "%svc create web2",
        f"%svc create badcpu --set resources.limits.cpu=lots -- {PY} {ECHO} {{port}}",
        "%svc get does-not-exist",
        "%svc update web",
        "%%svc apply\nservices: [\n",
        "%%svc apply\nservices:\n- name: Bad_Name\n  command: [x]\n",
        "%%svc nosuchtemplate x\nprint(1)",
        "%svc help create",
        "print(get_ipython().find_line_magic('svc').__doc__)",
        f"%svc create nbcrash -- {PY} -c \"print('boom:' + ' no config'); raise SystemExit(3)\"",
        f"%svc command nbline --idle 5m -- {PY} {ECHO} {{port}} --version line",
        f"%svc create nbsh --shell -- echo \"sh-$((40 + 2))\" && exec {PY} {ECHO} {{port}}",
        "%svc logs nbsh",
        "%svc delete nbcrash\n%svc delete nbline\n%svc delete nbsh",
        "%%svc streamlit My_App\nimport streamlit",
        "%%svc apply -h\nservices: []",
    ])
    traced = [(r.source, r.all[-1500:]) for r in results if "Traceback" in r.all]
    assert all("Traceback" not in r.all for r in results), traced  # which cell, when it fails (seen once in CI)
    _, scale, unknown, no_cmd, bad_cpu, missing, no_set, bad_yaml, bad_name, bad_tpl, help_, doc = results[:12]
    crash, line, shell, shell_logs, _, bad_cell_name, cell_help = results[12:]
    failing = [scale, unknown, no_cmd, bad_cpu, missing, no_set, bad_yaml, bad_name, bad_tpl, crash, bad_cell_name]
    assert all(len(r.errors) == 1 and r.errors[0].startswith("SvcMagicError: ") for r in failing), \
        [(r.source, r.errors) for r in failing]
    assert all(not r.errors for r in results if r not in failing), [(r.source, r.errors) for r in results]
    assert scale.error.startswith("the following arguments are required: N\nusage: %svc scale")
    assert unknown.error.strip() == "unknown subcommand 'frobnicate': `%svc help` lists them"
    assert "create needs the command after --" in no_cmd.error
    assert "error: invalid service spec" in bad_cpu.error
    assert "resources.limits.cpu: 'lots' is not a Kubernetes quantity" in bad_cpu.error
    assert missing.error.strip() == "error: no service named 'does-not-exist'"
    assert "update needs at least one --set" in no_set.error
    assert "the cell is not valid YAML or JSON (line 2)" in bad_yaml.error
    assert "manifest.services[0].name" in bad_name.error
    assert "%%svc takes `apply` or a template" in bad_tpl.error
    assert "%svc create NAME [options] -- COMMAND..." in help_.stdout
    for command in COMMANDS:
        assert f"  {command} " in doc.stdout, command
    assert "streamlit" in doc.stdout and "%%svc apply" in doc.stdout
    # a service that cannot start: its state and last log lines, not a traceback
    assert "nbcrash: failed" in crash.text and "boom: no config" in crash.text
    assert crash.error.startswith("nbcrash failed to start: exited with code 3")
    assert "<pre" in crash.html and "boom: no config" in crash.html
    assert "nbline: ready" in line.text  # a template as a line magic
    assert "nbsh: ready" in shell.text and "sh-42" in shell_logs.stdout  # run by /bin/sh, quotes intact
    assert bad_cell_name.error.startswith("'My_App' is not a service name: must be a DNS-1123 label")
    assert not (live.root_dir / ".jupyter-svc" / "My_App").exists()
    assert cell_help.stdout.startswith("%svc apply -f FILE")


def test_cell_apply_and_http_template(live: LiveServer) -> None:
    """%%svc apply with YAML, then a static site served from a cell; a re-run changes the page."""
    page = "%%svc http nbsite --idle 5m\n<h1>version {}</h1>\n"
    results = run_notebook(live, [
        "%load_ext jupyter_svc",
        f"%%svc apply\nservices:\n- name: nbapplied\n  command: [{PY}, {ECHO}, '{{port}}', --version, applied]\n",
        page.format(1),
        "from pathlib import Path; print(sorted(p.name for p in Path('.jupyter-svc/nbsite').iterdir()))",
    ])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    assert "apply ok" in results[1].text and "nbapplied  created" in results[1].text
    assert json.loads(fetch_until(live, "svc/nbapplied/", "applied"))["version"] == "applied"
    assert "nbsite: ready" in results[2].text
    assert results[3].stdout.strip() == "['index.html']"
    assert "<h1>version 1</h1>" in fetch_until(live, "svc/nbsite/", "version 1")
    rerun = run_notebook(live, ["%load_ext jupyter_svc", page.format(2),
                                "print(open('.jupyter-svc/nbsite/index.html').read(), end='')",
                                "%svc delete nbsite", "%svc delete nbapplied"])
    assert all(not r.errors for r in rerun), [(r.source, r.all) for r in rerun]
    assert "nbsite: ready" in rerun[1].text
    assert rerun[2].stdout == "<h1>version 2</h1>\n"
    assert not (live.root_dir / ".jupyter-svc" / "nbsite").exists()  # %svc delete leaves nothing behind


@pytest.mark.skipif(importlib.util.find_spec("fastapi") is None, reason="fastapi is not installed")
def test_fastapi_from_a_cell_rerun_changes_the_page(live: LiveServer) -> None:
    code = ("%%svc fastapi nbapi\nfrom fastapi import FastAPI\napp = FastAPI()\n\n"
            "@app.get('/')\ndef root():\n    return {{'version': {}}}\n")
    first = run_notebook(live, ["%load_ext jupyter_svc", code.format(1)])
    assert all(not r.errors for r in first), [(r.source, r.errors) for r in first]
    assert "nbapi: ready" in first[1].text
    assert json.loads(fetch(live, "svc/nbapi/")[1]) == {"version": 1}
    docs = fetch(live, "svc/nbapi/docs")[1]
    assert "/svc/nbapi/openapi.json" in docs  # uvicorn's root_path: links work under the prefix
    second = run_notebook(live, ["%load_ext jupyter_svc", code.format(2)])
    assert all(not r.errors for r in second)
    # one step, one result: the restart for the new code (no "ready" of the unchanged spec before it)
    assert second[1].text.count("nbapi: ready") == 1, second[1].all
    assert json.loads(fetch_until(live, "svc/nbapi/", "2")) == {"version": 2}
    api(live, "DELETE", "services/nbapi")


@pytest.mark.skipif(importlib.util.find_spec("streamlit") is None, reason="streamlit is not installed")
def test_streamlit_from_a_cell_is_served_through_the_proxy(live: LiveServer) -> None:
    results = run_notebook(live, ["%load_ext jupyter_svc",
                                  "%%svc streamlit nbst\nimport streamlit as st\nst.title('hello from a cell')\n"])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    assert "nbst: ready" in results[1].text, results[1].all
    code, page = fetch(live, "svc/nbst/")
    assert code == 200 and "Streamlit" in page
    assert fetch(live, "svc/nbst/_stcore/health") == (200, "ok")
    code, view = api(live, "GET", "services/nbst")
    assert view["spec"]["rewrite_path"] is False and "--server.baseUrlPath" in view["spec"]["command"]
    api(live, "DELETE", "services/nbst")


def test_tab_completion_in_a_kernel(live: LiveServer) -> None:
    """The kernel's own complete_request, as a frontend sends it."""
    assert api(live, "POST", "services?wait=30", {"name": "completeme", "command": [PY, ECHO, "{port}"]})[0] == 201
    km, kc = start_new_kernel(kernel_name="python3", env=live.client_env(), cwd=str(live.root_dir))
    try:
        kc.execute_interactive("%load_ext jupyter_svc", timeout=60)

        def complete(code: str) -> list[str]:
            reply = kc.complete(code, len(code), reply=True, timeout=30)
            return list(reply["content"]["matches"])

        assert "restart" in complete("%svc res")
        assert "completeme" in complete("%svc logs comp")
        assert {"--tail", "--timeout"} <= set(complete("%svc logs completeme --t"))
        assert "streamlit" in complete("%%svc stre")

        # progress while a slow app starts: the display is updated with its state, then the link
        messages: list[dict[str, Any]] = []
        kc.execute_interactive(f"%svc create slowstart -- {PY} {ECHO} {{port}} --delay 2", timeout=60,
                               output_hook=messages.append)
        updates = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"]
        assert any(u.startswith("starting slowstart… starting") for u in updates), updates
        assert updates[-1].startswith("● slowstart: ready at http://127.0.0.1")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        api(live, "DELETE", "services/completeme")
        api(live, "DELETE", "services/slowstart")


def test_argument_parsing_without_a_server() -> None:
    """Parsing alone: the `--` split, YAML values in --set, and usage errors."""
    ns, command = parse("create web --idle 5m --env A=1 -- python -m http.server {port}")
    assert (ns.name, ns.idle, ns.env, command) == ("web", "5m", ["A=1"], ["python", "-m", "http.server", "{port}"])
    assert merge_patch(["a.b=1", "a.c=true", "d=[x, y]", "e=null", "f=5m"]) == {
        "a": {"b": 1, "c": True}, "d": ["x", "y"], "e": None, "f": "5m"}
    ns, _ = parse("streamlit app1 --script app.py --idle 1h")
    assert (ns.command, ns.name, ns.script, ns.idle) == ("streamlit", "app1", "app.py", "1h")
    with pytest.raises(UsageError, match="--set takes KEY=VALUE"):
        merge_patch(["novalue"])
    with pytest.raises(UsageError, match="cannot read the arguments"):
        parse("create 'unclosed")
    assert (parse("create -h")[0].topic, parse("--help")[0].topic) == ("create", None)
    assert (parse("delete a b")[0].names, parse("logs web -f")[0].follow) == (["a", "b"], True)
    with pytest.raises(UsageError, match=r"N is a number >= 0 \(0 scales to zero\), not '-1'"):
        parse("scale web -1")


def test_list_as_json_and_delete_several(live: LiveServer) -> None:
    """Options the magic shares with `jupyter svc` (one argument tree): list --json, delete NAME..."""
    for name in ("nbmany-a", "nbmany-b"):
        assert api(live, "POST", "services", {"name": name, "command": [PY, ECHO, "{port}"]})[0] == 201
    results = run_notebook(live, ["%load_ext jupyter_svc", "%svc list --json", "%svc delete nbmany-a nbmany-b"])
    assert all(not r.errors and not r.stderr for r in results), [(r.source, r.all) for r in results]
    assert {"nbmany-a", "nbmany-b"} <= {v["name"] for v in json.loads(results[1].stdout)}
    assert results[2].stdout.splitlines() == ["deleted nbmany-a", "deleted nbmany-b"]
    assert [api(live, "GET", f"services/{name}")[0] for name in ("nbmany-a", "nbmany-b")] == [404, 404]


@pytest.mark.skipif(importlib.util.find_spec("voila") is None, reason="voila is not installed")
def test_voila_from_a_cell_renders_the_cell_as_a_notebook(live: LiveServer) -> None:
    results = run_notebook(live, ["%load_ext jupyter_svc", "%%svc voila nbvoila\nprint('voila' + '-from-a-cell')\n"])
    assert all(not r.errors for r in results), [(r.source, r.errors) for r in results]
    assert "nbvoila: ready" in results[1].text, results[1].all
    assert "voila-from-a-cell" in fetch_until(live, "svc/nbvoila/", "voila-from-a-cell", timeout=90)
    assert (live.root_dir / ".jupyter-svc" / "nbvoila" / "app.ipynb").exists()
    api(live, "DELETE", "services/nbvoila")
