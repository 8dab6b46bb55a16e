"""`jupyter svc` as a shell runs it: a child process, the server found through its runtime file."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ECHO_APP, echo_command
from notebook_helpers.fixtures import api, fetch, live
from notebook_helpers.server import LiveServer

from jupyter_svc.notebook.magic_args import SHELL_ONLY, help_text

__all__ = ["live"]


def jsvc(live: LiveServer, *args: str, env: dict[str, str] | None = None, stdin: str | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `jupyter svc ARGS` with the server's runtime dir and no JUPYTER_SVC_* variables."""
    return subprocess.run(["jupyter", "svc", *args], cwd=cwd or live.root_dir, env=env or live.env, input=stdin,
                          capture_output=True, text=True, timeout=180)


def test_apply_a_yaml_manifest_and_manage_it(live: LiveServer) -> None:
    manifest = live.root_dir / "services.yaml"
    command = json.dumps(echo_command("--version", "cli"))
    manifest.write_text(f"services:\n  - name: cli-echo\n    command: {command}\n    scale_to_zero: 5m\n"
                        f"  - name: cli-two\n    command: {json.dumps(echo_command())}\n")
    applied = jsvc(live, "apply", "-f", "services.yaml")
    assert applied.returncode == 0, applied.stderr
    assert "apply ok" in applied.stdout and "cli-echo  created" in applied.stdout
    assert json.loads(fetch(live, "svc/cli-echo/")[1])["version"] == "cli"

    listing = jsvc(live, "list")
    assert listing.returncode == 0
    header, *rows = listing.stdout.splitlines()
    assert header.split()[:3] == ["NAME", "STATE", "URL"]
    assert [r.split()[:2] for r in rows] == [["cli-echo", "ready"], ["cli-two", "ready"]]
    as_json = json.loads(jsvc(live, "list", "--json").stdout)
    assert {v["name"] for v in as_json} == {"cli-echo", "cli-two"}

    got = jsvc(live, "get", "cli-echo")
    assert got.returncode == 0 and "scale_to_zero: 5m" in got.stdout
    assert jsvc(live, "scale", "cli-echo", "0").stdout.startswith("○ cli-echo: scaled_to_zero")
    assert "cli-echo: ready" in jsvc(live, "wake", "cli-echo").stdout
    assert "cli-echo: ready" in jsvc(live, "restart", "cli-echo").stdout
    logs = jsvc(live, "logs", "cli-echo", "--tail", "50")
    assert logs.returncode == 0 and "echo app version cli listening" in logs.stdout

    replaced = jsvc(live, "apply", "-f", "-", "--mode", "replace",
                    stdin=json.dumps({"services": [{"name": "cli-echo", "command": echo_command("--version", "cli")}]}))
    assert replaced.returncode == 0 and "cli-two   deleted" in replaced.stdout
    deleted = jsvc(live, "delete", "cli-echo")
    assert deleted.returncode == 0 and deleted.stdout.strip() == "deleted cli-echo"
    assert api(live, "GET", "services")[1] == {"services": []}


def test_exit_codes_and_messages(live: LiveServer, tmp_path: Path) -> None:
    bad = live.root_dir / "bad.yaml"
    bad.write_text("services:\n  - name: cli-bad\n    command: [x]\n    resources: {limits: {memory: huge}}\n")
    invalid = jsvc(live, "apply", "-f", "bad.yaml")
    assert invalid.returncode == 1 and invalid.stdout == ""
    assert "manifest.services[0].resources.limits.memory: 'huge' is not a Kubernetes quantity" in invalid.stderr

    missing = jsvc(live, "get", "cli-nope")
    assert (missing.returncode, missing.stderr.strip()) == (4, "jupyter svc: no service named 'cli-nope'")
    usage = jsvc(live, "scale", "cli-nope")
    assert usage.returncode == 2 and usage.stderr.startswith("usage: jupyter svc scale")
    unreadable = jsvc(live, "apply", "-f", "nope.yaml")
    assert (unreadable.returncode, unreadable.stderr.strip()) == (2, "jupyter svc: cannot read nope.yaml: "
                                                                   "No such file or directory")
    no_yaml = live.root_dir / "broken.yaml"
    no_yaml.write_text("services: [\n")
    assert jsvc(live, "apply", "-f", "broken.yaml").returncode == 2
    bomb = live.root_dir / "bomb.yaml"  # 9**9 values once its aliases are spelled out
    bomb.write_text("a: &a [x, x, x, x, x, x, x, x, x]\n" + "\n".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)) + "\n")
    refused = jsvc(live, "apply", "-f", "bomb.yaml")
    assert refused.returncode == 2 and "alias bomb" in refused.stderr, refused.stderr

    elsewhere = {**live.env, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    none = jsvc(live, "list", env=elsewhere)
    assert none.returncode == 3 and none.stderr.startswith("jupyter svc: No Jupyter server with jupyter-svc")
    explicit = jsvc(live, "--url", live.url, "--token", live.token, "list", env=elsewhere)
    assert explicit.returncode == 0


def test_failed_service_exits_non_zero_with_its_logs(live: LiveServer) -> None:
    crash = [sys.executable, "-c", "import sys; print('boom: missing config'); sys.exit(3)"]
    code, view = api(live, "POST", "services?wait=60", {"name": "cli-crash", "command": crash})
    assert code == 201 and view["status"]["state"] == "failed", view
    restarted = jsvc(live, "restart", "cli-crash", "--wait", "60")
    assert restarted.returncode == 1 and "cli-crash: failed" in restarted.stdout
    assert "boom: missing config" in restarted.stdout
    api(live, "DELETE", "services/cli-crash")


def test_logs_follow_streams_new_lines(live: LiveServer) -> None:
    assert api(live, "POST", "services?wait=30", {"name": "cli-follow", "command": echo_command()})[0] == 201
    follow = subprocess.Popen(["jupyter", "svc", "logs", "cli-follow", "-f", "--tail", "1"], cwd=live.root_dir,
                              env=live.env, stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        first = follow.stdout.readline()
        assert first.strip()  # the tail line, then what comes next
        fetch(live, "svc/cli-follow/after-follow")
        for _ in range(20):
            line = follow.stdout.readline()
            if "after-follow" in line:
                break
        assert "GET /after-follow" in line
    finally:
        follow.terminate()
        follow.wait(10)
        api(live, "DELETE", "services/cli-follow")


def test_create_update_templates_and_the_other_subcommands(live: LiveServer) -> None:
    """The subcommands the CLI shares with %svc, each run as a shell runs it."""
    echo = [sys.executable, ECHO_APP, "{port}"]
    created = jsvc(live, "create", "cli-new", "--idle", "5m", "--env", "DEMO_A=1", "--", *echo, "--version", "made")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"● cli-new: ready at {live.url}svc/cli-new/")
    answer = json.loads(fetch(live, "svc/cli-new/")[1])
    assert (answer["version"], answer["env"]["DEMO_A"]) == ("made", "1")
    again = jsvc(live, "create", "cli-new", "--", *echo)
    assert again.returncode == 1 and "cli-new" in again.stderr and "exists" in again.stderr
    no_command = jsvc(live, "create", "cli-none")
    assert no_command.returncode == 2 and "create needs the command after --" in no_command.stderr

    updated = jsvc(live, "update", "cli-new", "--set", "scale_to_zero=10m", "--set", "description=from a shell")
    assert updated.returncode == 0 and "cli-new: ready" in updated.stdout, updated.stderr
    spec = json.loads(jsvc(live, "get", "cli-new", "--json").stdout)["spec"]
    assert (spec["scale_to_zero"], spec["description"]) == ("10m", "from a shell")
    assert jsvc(live, "update", "cli-new").returncode == 2
    assert jsvc(live, "open", "cli-new").stdout == f"{live.url}svc/cli-new/\n"
    assert "cli-new: disabled" in jsvc(live, "disable", "cli-new").stdout
    assert "cli-new: ready" in jsvc(live, "enable", "cli-new").stdout
    assert "cli-new: scaled_to_zero" in jsvc(live, "stop", "cli-new").stdout

    shell = jsvc(live, "create", "cli-sh", "--shell", "--", f'echo "sh-$((40 + 2))" && exec {sys.executable} '
                 f"{ECHO_APP} {{port}}")
    assert shell.returncode == 0 and "cli-sh: ready" in shell.stdout, shell.stderr
    assert "sh-42" in jsvc(live, "logs", "cli-sh").stdout

    (live.root_dir / "site").mkdir()
    (live.root_dir / "site" / "index.html").write_text("<h1>from the cli</h1>\n")
    site = jsvc(live, "http", "cli-site", "--directory", "site", "--idle", "1h")
    assert site.returncode == 0 and "cli-site: ready" in site.stdout, site.stderr
    assert fetch(live, "svc/cli-site/") == (200, "<h1>from the cli</h1>\n")
    command = jsvc(live, "command", "cli-cmd", "--", *echo, "--version", "templated")
    assert command.returncode == 0, command.stderr
    assert json.loads(fetch(live, "svc/cli-cmd/")[1])["version"] == "templated"

    schema = jsvc(live, "schema")
    assert schema.stdout.split()[:3] == ["FIELD", "TYPE", "DESCRIPTION"] and "*name" in schema.stdout
    assert "scale_to_zero" in json.loads(jsvc(live, "schema", "--json").stdout)["properties"]
    templates = jsvc(live, "templates").stdout
    assert templates.startswith("TEMPLATE") and "streamlit" in templates
    assert jsvc(live, "help", "create").stdout.startswith("jupyter svc create NAME [options] -- COMMAND...")
    deleted = jsvc(live, "delete", "cli-new", "cli-sh", "cli-site", "cli-cmd")
    assert deleted.stdout.splitlines() == [f"deleted cli-{n}" for n in ("new", "sh", "site", "cmd")]
    assert api(live, "GET", "services")[1] == {"services": []}


def test_connect_prints_what_a_shell_evaluates(live: LiveServer, tmp_path: Path) -> None:
    """No runtime file to find the server by: `eval "$(jupyter svc connect ...)"` makes later commands use it."""
    elsewhere = {**live.env, "JUPYTER_RUNTIME_DIR": str(tmp_path)}
    script = f'eval "$(jupyter svc connect {live.url} --token {live.token})" && jupyter svc list --json'
    done = subprocess.run(["bash", "-c", script], env=elsewhere, capture_output=True, text=True, timeout=120)
    assert (done.returncode, json.loads(done.stdout)) == (0, []), done.stderr
    wrong = jsvc(live, "connect", live.url, "--token", "wrong", env=elsewhere)
    assert wrong.returncode == 3 and "the token is missing or wrong" in wrong.stderr and wrong.stdout == ""


def test_shell_and_magic_list_the_same_subcommands(live: LiveServer) -> None:
    """`jupyter svc --help`, `jupyter svc help` and `%svc help` (the text the magic prints) name the
    same subcommands: one argument tree."""
    def listed(text: str, indent: str) -> set[str]:
        return {m.group(1) for m in re.finditer(rf"^{indent}([a-z][\w-]*)\b", text, re.MULTILINE)}

    argparse_help = jsvc(live, "--help").stdout
    section = argparse_help.split("SUBCOMMAND\n", 1)[1].split("\noptions:", 1)[0]
    magic = listed(help_text(), "  ")
    assert {"create", "update", "connect", "schema", "streamlit"} <= magic
    shell = magic | set(SHELL_ONLY)  # and the shell's own: rbac
    assert "rbac" in shell and "rbac" not in magic
    assert listed(section, "    ") == shell
    assert listed(jsvc(live, "help").stdout, "  ") == shell


def test_rbac_prints_the_kubernetes_role_without_a_server(tmp_path: Path) -> None:
    """`jupyter svc rbac` needs no server: the shipped Role with its comments; with a namespace and a
    ServiceAccount, the Role placed there and a RoleBinding to that account; a binding without a
    namespace is a usage error (exit 2). The Role itself is tested on a real apiserver in
    tests/test_kubernetes_reflector.py."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_SVC_")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path)  # no server anywhere

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["jupyter", "svc", "rbac", *args], env=env, capture_output=True, text=True,
                              timeout=60)

    plain = run()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("# The Role the jupyter-svc Kubernetes backend needs")
    assert "deployments/scale" in plain.stdout and "pods/log" in plain.stdout
    placed = run("--namespace", "team-a", "--service-account", "jupyter")
    role, binding = yaml.safe_load_all(placed.stdout)
    assert (role["kind"], role["metadata"]["namespace"]) == ("Role", "team-a")
    assert binding["kind"] == "RoleBinding" and binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "jupyter", "namespace": "team-a"}]
    unplaced = run("--service-account", "jupyter")
    assert unplaced.returncode == 2 and "rbac --service-account needs --namespace" in unplaced.stderr
    assert unplaced.stdout == ""
