"""Per-service output: a size-capped file on disk, an in-memory tail, and live followers.

Beside the service's own output, the log holds the server's marker lines (``[jupyter-svc] ...``,
times in UTC): when a process started, when and how it ended, and that the service was deleted.
The lab panel's log viewer reads the last two to say what it is following.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from pathlib import Path

#: What every line the server itself writes into a service's log starts with.
MARKER = "[jupyter-svc]"


def stamp() -> str:
    """Now, in UTC to the second: the time a marker line carries."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def started_line(pid: int, where: str, argv: list[str]) -> str:
    """``where``: ``port 8000``, or the Unix socket's path."""
    return f"{MARKER} started pid {pid} on {where} at {stamp()}: {' '.join(argv)}"


def exited_line(pid: int, code: int) -> str:
    """``exited with code 1``, or ``killed by SIGTERM`` for a negative (signal) code."""
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    return f"{MARKER} pid {pid} {how} at {stamp()}"


def deleted_line() -> str:
    return f"{MARKER} service deleted at {stamp()}: the log ends here"


class ServiceLog:
    """Collects lines from every instance of one service.

    The file rolls over to ``<name>.log.1`` once it passes ``max_bytes`` so a chatty service
    never fills the disk; the tail and the followers never touch the disk.
    """

    def __init__(self, path: Path, max_bytes: int, tail_lines: int = 1000) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._followers: set[asyncio.Queue[str | None]] = set()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._size = self._file.tell()

    def write(self, line: str) -> None:
        if self._file.closed:  # a late line (an exit noted after a delete or shutdown) has no home
            return
        line = line.rstrip("\n")
        self._tail.append(line)
        data = line + "\n"
        if self._size + len(data) > self.max_bytes:
            self._roll()
        self._file.write(data)
        self._file.flush()
        self._size += len(data)
        for queue in self._followers:
            if queue.qsize() < 10_000:  # a stalled follower loses lines, the service never blocks
                queue.put_nowait(line)

    def _roll(self) -> None:
        self._file.close()
        os.replace(self.path, self.path.with_suffix(".log.1"))
        self._file = open(self.path, "w", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._size = 0

    def tail(self, lines: int) -> list[str]:
        if lines <= 0:
            return []
        return list(self._tail)[-lines:]

    async def follow(self) -> AsyncIterator[str]:
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._followers.add(queue)
        try:
            while (line := await queue.get()) is not None:
                yield line
        finally:
            self._followers.discard(queue)

    def close(self) -> None:
        for queue in self._followers:
            queue.put_nowait(None)
        self._file.close()

    def remove(self) -> None:
        self.close()
        for path in (self.path, self.path.with_suffix(".log.1")):
            path.unlink(missing_ok=True)


async def pump(stream: asyncio.StreamReader, write: Callable[[str], None], prefix: str = "") -> None:
    """Copy a child's output into its log until EOF; long lines are split, never buffered whole."""
    while True:
        try:
            chunk = await stream.readline()
        except ValueError:  # a line longer than the reader's limit
            chunk = await stream.read(65536)
        if not chunk:
            return
        write(prefix + chunk.decode("utf-8", errors="replace"))
