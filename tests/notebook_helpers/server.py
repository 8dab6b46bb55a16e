"""A real `jupyter server` in a child process, with jupyter-svc enabled and its own dirs.

The in-process pytest-jupyter server shares the test's event loop, so blocking clients (the sync
client, a kernel's magics, the CLI) would deadlock against it; a child process has no such trap and
is started once per test module.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LiveServer:
    url: str  # with base_url, ending in '/'
    token: str
    root_dir: Path
    runtime_dir: Path
    state_dir: Path
    config_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    base_url: str = "/"
    env: dict[str, str] = field(default_factory=dict)

    def client_env(self) -> dict[str, str]:
        """Environment a kernel started by this server would have."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("JUPYTER_SVC_", "JUPYTER_SERVER_", "JPY_")) and k != "JUPYTER_TOKEN"}
        env.update({"JUPYTER_SVC_URL": self.url, "JUPYTER_SVC_TOKEN": self.token,
                    "JUPYTER_RUNTIME_DIR": str(self.runtime_dir), "JUPYTER_CONFIG_DIR": str(self.config_dir)})
        return env

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


#: Other server extensions this environment may enable: off, so the server starts fast.
_QUIET = {"jupyterlab": False, "jupyter_lsp": False, "notebook_shim": False,
          "jupyter_server_terminals": False,
          "voila": False, "panel": False}


def _die_with_parent() -> None:
    """Linux: SIGINT the server if the test process dies without cleaning up (a killed run)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(tmp: Path, base_url: str = "/", extension: bool = True, cwd: Path | None = None,
                svc_config: dict[str, object] | None = None,
                classes: dict[str, dict[str, object]] | None = None) -> Iterator[LiveServer]:
    """Start `jupyter server`, wait until the svc API answers, stop it (and its services) after.

    ``cwd``: the server process's working directory (default: its root_dir); ``svc_config``:
    more SvcExtension options; ``classes``: other classes' options (``{"LocalBackend": {...}}``)."""
    root, runtime, state, config = (tmp / d for d in ("root", "runtime", "state", "config"))
    for folder in (root, runtime, config):
        folder.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    port = free_port()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_svc": extension, **_QUIET}, "port": port,
                      "ip": "127.0.0.1", "open_browser": False, "root_dir": str(root), "base_url": base_url,
                      "port_retries": 0, "allow_root": True},
        "IdentityProvider": {"token": token},
        "SvcExtension": {"state_dir": str(state), "readiness_timeout": 60.0, "stop_grace": 3.0,
                         "restart_backoff_initial": 0.1, "restart_backoff_max": 0.5, **(svc_config or {})},
        **(classes or {}),
    }))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_SVC_", "JPY_"))}
    env.update({"JUPYTER_RUNTIME_DIR": str(runtime), "JUPYTER_CONFIG_DIR": str(config),
                "JUPYTER_PLATFORM_DIRS": "1"})
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "jupyter_server"], cwd=cwd or root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                   preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}{base_url}"
    server = LiveServer(url, token, root, runtime, state, config, process, log_path, base_url, env)
    try:
        _wait_up(server, "svc/api/services" if extension else "api/status")
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def _wait_up(server: LiveServer, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"token {server.token}"})
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter server exited with {server.process.returncode}:\n{server.log()}")
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    raise RuntimeError(f"jupyter server did not answer on {server.url} in {timeout:g}s:\n{server.log()}")
