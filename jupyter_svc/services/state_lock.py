"""One server per state folder: a file lock held for the server's whole life, and who holds it.

Two servers on one folder would both restore and run every service (two copies of each app, two
writers of each spec). The lock is ``flock``-based (``filelock``), so the kernel releases it when
its holder dies, even by SIGKILL: a crashed server never leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from filelock import FileLock, Timeout


class StateFolderLock:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        # not thread-local: taken in a worker thread, released from the event loop
        self._lock = FileLock(str(directory / "server.lock"), timeout=0, thread_local=False)
        self._owner = directory / "server.json"  # beside the lock: filelock truncates the lock file

    def acquire(self, url: str) -> str | None:
        """None once this server holds the folder; otherwise why it may not use it (blocking I/O)."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except Timeout:
            return (f"the state folder {self.directory} is in use by another jupyter-svc server "
                    f"({self.holder()}); this server serves no services from it")
        except OSError as exc:
            return f"cannot lock the state folder {self.directory}: {exc}; this server serves no services"
        since = datetime.now(timezone.utc).isoformat(timespec="seconds")
        with contextlib.suppress(OSError):  # the lock is what counts; a second server then names no holder
            self._owner.write_text(json.dumps({"pid": os.getpid(), "url": url, "since": since}))
        return None

    def holder(self) -> str:
        """Who holds the folder, as the holder wrote it when it took the lock."""
        try:
            data = json.loads(self._owner.read_text(encoding="utf-8"))
            return f"process {int(data['pid'])}, serving {data.get('url', '?')}, since {data.get('since', '?')}"
        except (OSError, ValueError, KeyError, TypeError):
            return "holder unknown: no readable server.json"

    def release(self) -> None:
        if self._lock.is_locked:
            with contextlib.suppress(OSError):
                self._owner.unlink(missing_ok=True)
            self._lock.release()
