"""jupyter-svc in a real JupyterHub (configurable-http-proxy, DummyAuthenticator, local process
spawner; no network beyond loopback): a browser's first visit to a service link logs in through
the Hub's OAuth and lands on the service (the redirect keeps the OAuth state); the service sees
none of the Hub's cookies or Jupyter's XSRF token, and none of the Hub's variables.

Skips, saying why, without jupyterhub (the test extra) or configurable-http-proxy (.ci/run installs
it with npm; JUPYTER_SVC_TEST_CHP names the executable, else it is looked up on PATH)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("jupyterhub", reason="jupyterhub is not installed (pip install -e '.[test]')")
requests = pytest.importorskip("requests")

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse"  # DummyAuthenticator's shared password
APP = """
import http.server, json, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"headers": dict(self.headers), "env": dict(os.environ), "path": self.path}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chp() -> str:
    found = os.environ.get("JUPYTER_SVC_TEST_CHP") or shutil.which("configurable-http-proxy")
    if not found:
        pytest.skip("configurable-http-proxy not found: set JUPYTER_SVC_TEST_CHP or put it on PATH "
                    "(.ci/run: npm install configurable-http-proxy)")
    if not shutil.which("node"):
        pytest.skip("node is not installed: configurable-http-proxy needs it")
    return found


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[str]:
    """A running Hub on loopback; its URL. Stopped (with the servers it spawned) afterwards."""
    chp = _chp()
    port, hub_port, api_port = _free_port(), _free_port(), _free_port()
    (tmp_path / "home").mkdir()
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(f"""
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{tmp_path}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp_path}/cookie_secret"
c.JupyterHub.authenticator_class = "jupyterhub.auth.DummyAuthenticator"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "jupyterhub.spawner.SimpleLocalProcessSpawner"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp_path}/home/{{username}}"
c.Spawner.cmd = [{sys.executable!r}, "-m", "jupyterhub.singleuser"]
c.Spawner.args = ["--allow-root", "--ServerApp.jpserver_extensions=jupyter_svc=True",
                  "--SvcExtension.state_dir={tmp_path}/svc-{{username}}"]
c.Spawner.environment = {{"PYTHONPATH": {str(ROOT)!r}}}
c.Spawner.http_timeout = 60
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 60}}  # the spawn answers once the server is up
""")
    log = (tmp_path / "hub.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp_path,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (tmp_path / "hub.log").read_text()[-3000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/hub/health", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("the hub did not start: " + (tmp_path / "hub.log").read_text()[-3000:])
        yield url
    finally:
        process.send_signal(signal.SIGTERM)  # the hub stops the servers it spawned and its proxy
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _log_in(session: Any, hub: str, user: str, then: str) -> Any:
    """A browser's login: the Hub's form (with its _xsrf cookie), then wherever it leads."""
    form = session.get(f"{hub}/hub/login", params={"next": then}, timeout=30)
    assert form.status_code == 200, form.text[:500]
    xsrf = session.cookies.get("_xsrf", path="/hub/")
    return session.post(form.url, data={"username": user, "password": PASSWORD, "_xsrf": xsrf}, timeout=120)


def test_service_link_logs_in_through_the_hub_and_sees_no_hub_credentials(hub: str) -> None:
    alice = requests.Session()
    _log_in(alice, hub, "alice", "/hub/spawn")  # starts alice's server
    deadline = time.monotonic() + 90
    while True:  # the spawn-pending page polls as well; then the server's OAuth dance sets its cookie
        page = alice.get(f"{hub}/user/alice/", timeout=30)
        if (page.status_code == 200 and "/user/alice/" in page.url) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert alice.get(f"{hub}/user/alice/api/status", timeout=30).status_code == 200, (page.status_code, page.url)
    xsrf = alice.cookies.get("_xsrf", path="/user/alice/")
    assert xsrf, alice.cookies
    created = alice.post(f"{hub}/user/alice/svc/api/services", params={"wait": 30}, headers={"X-XSRFToken": xsrf},
                         json={"name": "files", "command": [sys.executable, "-c", APP, "{port}"]}, timeout=60)
    assert created.status_code == 201, created.text

    seen = alice.get(f"{hub}/user/alice/svc/files/page?x=1", timeout=30)
    assert seen.status_code == 200, seen.text[:500]
    echo = seen.json()
    assert echo["path"] == "/page?x=1"
    cookies = echo["headers"].get("Cookie", "")
    assert "jupyterhub-" not in cookies and "_xsrf" not in cookies, cookies
    assert not [k for k in echo["env"] if k.startswith(("JUPYTERHUB_", "JPY_"))], sorted(echo["env"])

    # a shared link opened by a browser that has no cookie for alice's server yet (first visit,
    # or after a restart): the server sends it to the Hub's OAuth, the Hub to its login form; after
    # the login the OAuth callback must accept its state and bring the browser back to the link
    link = f"{hub}/user/alice/svc/files/shared?y=2&z=%2F"
    fresh = requests.Session()
    form = fresh.get(link, timeout=60)
    assert form.status_code == 200 and "/hub/login" in form.url, (form.status_code, form.url)
    landed = fresh.post(form.url, data={"username": "alice", "password": PASSWORD,
                                        "_xsrf": fresh.cookies.get("_xsrf", path="/hub/")}, timeout=60)
    assert landed.status_code == 200, (landed.status_code, landed.url, [r.url for r in landed.history],
                                       landed.text[:500])
    assert landed.url == link and landed.json()["path"] == "/shared?y=2&z=%2F"
