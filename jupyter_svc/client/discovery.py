"""Finding the Jupyter server (URL + token) the client should talk to.

A kernel started by the server inherits ``JUPYTER_SVC_URL``/``JUPYTER_SVC_TOKEN``; other processes
fall back to the standard Jupyter variables, then to the servers' runtime files, read by
jupyter_server's own ``list_running_servers`` (what ``jupyter server list`` prints). Only the
lookup lives here; the client checks reachability.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServerInfo:
    """Where a Jupyter server answers: ``url`` includes its base_url and ends with '/'."""

    url: str
    token: str = ""
    source: str = "argument"
    root_dir: str = ""

    @property
    def origin(self) -> str:
        """``scheme://host:port`` without the base_url (for absolute links)."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"


def _normalise(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/") else url + "/"


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # no pid recorded: let the reachability check decide
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def runtime_servers(runtime_dir: str | None = None) -> list[ServerInfo]:
    """Servers whose runtime file is present and whose process lives, the best match for cwd first.

    The best match is the server whose root_dir contains the current directory most closely (then
    the newest), so a kernel (or a shell) inside a project talks to that project's server.
    """
    if runtime_dir is None:
        from jupyter_core.paths import jupyter_runtime_dir

        runtime_dir = jupyter_runtime_dir()
    cwd = Path.cwd().resolve()
    found: list[tuple[int, float, ServerInfo]] = []
    for path, info in _server_files(runtime_dir):
        if not isinstance(info, dict) or not info.get("url"):
            continue
        root = str(info.get("root_dir") or "")
        depth = -1
        if root:
            try:
                cwd.relative_to(Path(root).resolve())
                depth = len(Path(root).resolve().parts)
            except ValueError:
                depth = -1
        try:
            mtime = os.path.getmtime(path)
        except OSError:
            mtime = 0.0
        server = ServerInfo(_normalise(str(info["url"])), str(info.get("token") or ""), path, root)
        found.append((depth, mtime, server))
    found.sort(key=lambda item: (item[0], item[1]), reverse=True)
    return [server for _, _, server in found]


def _server_files(runtime_dir: str) -> list[tuple[str, Any]]:
    """(file, info) of each running server, read by jupyter_server itself where it is installed
    (``jupyter server list``'s reading: stale files are skipped and removed); a kernel's
    environment without jupyter_server, or a file that vanishes as it is read, falls back to
    :func:`_read_server_files`. Imported here, not above, and only when there are files to read:
    jupyter_server takes seconds to import (jsonschema's format checkers) and a kernel with
    JUPYTER_SVC_URL never needs it."""
    if not glob.glob(os.path.join(runtime_dir, "jpserver-*.json")):
        return []
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return _read_server_files(runtime_dir)
    try:
        return [(os.path.join(runtime_dir, f"jpserver-{info['pid']}.json"), info)
                for info in list_running_servers(runtime_dir)]
    except (OSError, TypeError, ValueError):  # removed while listed, or a pid that is not a number
        return _read_server_files(runtime_dir)


def _read_server_files(runtime_dir: str) -> list[tuple[str, Any]]:
    """The runtime dir's ``jpserver-*.json`` files whose process lives (or that name none)."""
    out: list[tuple[str, Any]] = []
    for path in glob.glob(os.path.join(runtime_dir, "jpserver-*.json")):
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and _pid_alive(info.get("pid")):
            out.append((path, info))
    return out


def iter_candidates(url: str | None = None, token: str | None = None) -> Iterator[ServerInfo]:
    """Every place a server may be, in the order the client tries them; the runtime files are read
    only when the client gets past the environment's candidates."""
    if url:
        yield ServerInfo(_normalise(url), token or "", "argument")
        return
    env = os.environ
    if env.get("JUPYTER_SVC_URL"):
        yield ServerInfo(_normalise(env["JUPYTER_SVC_URL"]), token or env.get("JUPYTER_SVC_TOKEN", ""),
                         "JUPYTER_SVC_URL")
    if env.get("JUPYTER_SERVER_URL"):
        yield ServerInfo(_normalise(env["JUPYTER_SERVER_URL"]),
                         token or env.get("JUPYTER_TOKEN") or env.get("JPY_API_TOKEN", ""), "JUPYTER_SERVER_URL")
    for server in runtime_servers():
        yield ServerInfo(server.url, token, server.source, server.root_dir) if token else server


def candidates(url: str | None = None, token: str | None = None) -> list[ServerInfo]:
    """Every place a server may be, in the order the client tries them."""
    return list(iter_candidates(url, token))
