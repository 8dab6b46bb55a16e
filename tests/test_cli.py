"""`jupyter svc` as a shell runs it: a child process, the server found through its runtime file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import echo_command
from notebook_helpers.fixtures import api, fetch, live
from notebook_helpers.server import LiveServer

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
