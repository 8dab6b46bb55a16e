"""Finding the Jupyter server (URL + token) the client should talk to.

A kernel started by the server inherits ``JUPYTER_SVC_URL``/``JUPYTER_SVC_TOKEN``; other processes
fall back to the standard Jupyter variables, then to the servers' runtime files, read with the rules
of jupyter_server's ``list_running_servers`` (what ``jupyter server list`` prints; a test holds the
two to the same answer). Not by importing it: ``jupyter_server.serverapp`` takes 2.2 s to import
(jsonschema's format checkers), which every ``jupyter svc`` command and ``Client()`` would pay.
Only the lookup lives here; the client checks reachability.
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


def browser_origin(server: ServerInfo) -> str:
    """``scheme://host`` a user's browser reaches the server at, for the links shown to people;
    ``""`` (links relative to the page) when only the path is known.

    A kernel talks to the server at its internal address (under JupyterHub, e.g.
    ``http://127.0.0.1:35007/user/alice/``), which a remote browser cannot reach: there the Hub's
    public URL (``JUPYTERHUB_PUBLIC_URL``, or ``JUPYTERHUB_HOST`` with subdomains) gives the origin,
    else the page's own origin serves (the server's base_url is the Hub's prefix for it).
    """
    env = os.environ
    for variable in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_HOST"):
        scheme, sep, rest = env.get(variable, "").strip().partition("://")
        if sep and rest.split("/", 1)[0]:
            return f"{scheme}://{rest.split('/', 1)[0]}"
    if env.get("JUPYTERHUB_SERVICE_PREFIX"):
        return ""
    return server.origin


def _normalise(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/") else url + "/"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's server: alive
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


def _server_files(runtime_dir: str) -> list[tuple[str, dict[str, Any]]]:
    """(file, info) of each ``jpserver-*.json`` whose process lives, as ``list_running_servers``
    takes them (a file without a pid is skipped too); unlike it, a client removes nobody's files."""
    out: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(glob.glob(os.path.join(runtime_dir, "jpserver-*.json"))):
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError):  # vanished while listed, or half written
            continue
        pid = info.get("pid") if isinstance(info, dict) else None
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 0 and _pid_alive(pid):
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
