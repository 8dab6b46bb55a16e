"""Unix sockets for services (``{unix_socket}``): reachable only by the user who runs the server.

A service on 127.0.0.1 answers every local user of the machine; a socket in a folder of mode 0700
answers only its owner (and root), as jupyter-server-proxy 4 offers. AF_UNIX paths hold about 107
bytes, so the folder must be short: under Jupyter's runtime dir when that is short enough, else
``/tmp/jupyter-svc-<uid>``, and each socket is named by a short id (one per instance: an update
started beside the running version needs a socket of its own).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from jupyter_svc.model.errors import SvcError

#: Longest AF_UNIX path on Linux (sun_path is 108 bytes with its terminating NUL); 103 on macOS.
MAX_SOCKET_PATH = 103
#: A socket's file name: 12 hex digits and ".sock".
NAME_LENGTH = 17


class SocketFolder:
    """The private folder that holds every service's socket."""

    def __init__(self, runtime_dir: Path) -> None:
        preferred = runtime_dir / "svc-sockets"
        if len(os.fsencode(preferred)) + 1 + NAME_LENGTH > MAX_SOCKET_PATH:
            preferred = Path(tempfile.gettempdir()) / f"jupyter-svc-{os.getuid()}"
        self.path = preferred

    def ensure(self) -> Path:
        """The folder, made (0700) if needed; SvcError if someone else owns it or can open it."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.path)
        except OSError as exc:
            raise SvcError(f"cannot make the folder for Unix sockets {self.path}: {exc.strerror or exc}") from exc
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            raise SvcError(f"{self.path} is not a folder of this user's: refusing to put sockets in it")
        if stat.S_IMODE(info.st_mode) != 0o700:
            os.chmod(self.path, 0o700)  # ours: made private again (mkdir's mode is masked by umask)
        return self.path

    def socket_for(self, instance_id: str) -> str:
        path = self.ensure() / f"{instance_id[:12]}.sock"
        remove(str(path))  # a leftover of a killed server: the app could not bind over it
        return str(path)


def remove(path: str) -> None:
    """Remove a service's socket file, if it is one (never anything else by that name)."""
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
