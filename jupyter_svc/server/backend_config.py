"""The server's backends: the configured names, loaded from the ``jupyter_svc.backends`` entry
points (backends/registry.py) and made with the server as their traitlets parent, so that each
reads its own options (``c.LocalBackend.port_range``).

Options that lived on the server before backends had classes of their own still work, as
jupyter_server keeps its renamed options: set on ``SvcExtension``, they are copied to the
backend's class (unless set there too) with a deprecation warning naming the new spelling.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from traitlets.config import Config, LoggingConfigurable

from jupyter_svc.backends.base import Backend, ServerInfo
from jupyter_svc.backends.registry import backend_class
from jupyter_svc.model.errors import SvcError

#: SvcExtension's deprecated option -> (backend class, its option there).
DEPRECATED = {
    "port_range": ("LocalBackend", "port_range"),
    "local_host": ("LocalBackend", "host"),
    "refuse_exposed_services": ("LocalBackend", "refuse_exposed_services"),
    "max_log_bytes": ("LocalBackend", "max_log_bytes"),
}


def forward_deprecated(app: LoggingConfigurable) -> None:
    """Copy each deprecated option the config sets on the app to its backend's class."""
    own: Config = app.config.get(type(app).__name__, Config())
    for old, (cls, new) in DEPRECATED.items():
        if old not in own:
            continue
        section = app.config[cls]
        if new in section:
            app.log.warning("jupyter-svc: c.%s.%s is deprecated and ignored: c.%s.%s is set too",
                            type(app).__name__, old, cls, new)
            continue
        app.log.warning("jupyter-svc: c.%s.%s is deprecated; use c.%s.%s", type(app).__name__, old, cls, new)
        section[new] = own[old]


def server_user() -> str:
    """Who the server runs for: the hub's user name under JupyterHub, else the OS user."""
    try:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return str(os.getuid())


def build_backends(app: LoggingConfigurable, names: list[str], info: ServerInfo) -> dict[str, Backend]:
    """One backend object per configured name, in order. One that is not installed or cannot be
    imported (its extra is missing) is logged and left out: the server runs the others, and specs
    that name it are refused ("unknown backend", listing those it has) and kept on disk, not run."""
    forward_deprecated(app)
    backends: dict[str, Backend] = {}
    for name in dict.fromkeys(names):
        try:
            cls = backend_class(name)
        except SvcError as exc:
            app.log.error("jupyter-svc: %s", exc)
            continue
        backend = cls(info, parent=app)
        backend.name = name
        backends[name] = backend
    return backends


def server_info(state_dir: Path, runtime_dir: str, serverapp: Any, readiness_timeout: float) -> ServerInfo:
    root_dir = str(serverapp.root_dir) if serverapp else None  # a spec without cwd runs there
    return ServerInfo(state_dir=state_dir, runtime_dir=Path(runtime_dir), root_dir=root_dir,
                      base_url=serverapp.base_url if serverapp else "/", readiness_timeout=readiness_timeout,
                      user=server_user())


__all__ = ["DEPRECATED", "build_backends", "forward_deprecated", "server_info"]
