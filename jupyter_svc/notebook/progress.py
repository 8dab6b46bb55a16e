"""Waiting for an operation in a notebook: its progress while it runs, its result after.

The REST call runs in a thread so that the kernel's own thread can show the state, the seconds
so far and the service's last log line twice a second, and can be interrupted: the server goes
on with the operation (a start keeps starting), only the waiting stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from IPython.display import display

from jupyter_svc.client.api_calls import ApiError
from jupyter_svc.client.clients import Client
from jupyter_svc.model.status import ServiceView

from .magic_errors import SvcMagicError

#: Seconds between two looks at the state and the log while an operation runs.
POLL_SECONDS = 0.5
#: Characters of the last log line shown beside the progress.
LOG_LINE_WIDTH = 100


class Progress:
    """One line of progress: ``starting web… starting 3s · Uvicorn running on ...``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f"<i>⏳ {html.escape(self.text)}</i>"


class Waiting:
    """A display that shows ``text`` and its progress, then whatever :meth:`show` is given."""

    def __init__(self, client: Client, text: str, name: str) -> None:
        self.client, self.text, self.name = client, text, name
        self.handle = display(Progress(text), display_id=True)
        self.started = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def show(self, shown: Any) -> None:
        if self.handle is not None:
            self.handle.update(shown)
        else:  # pragma: no cover - outside IPython's display machinery
            print(repr(shown))

    def run(self, call: Callable[..., ServiceView], *args: Any) -> ServiceView:
        """``call(*args)``'s answer; KeyboardInterrupt stops the waiting (SvcMagicError), not the work."""
        pool = ThreadPoolExecutor(1)
        future = pool.submit(call, *args)
        try:
            while True:
                try:
                    return future.result(timeout=POLL_SECONDS)
                except FutureTimeout:
                    self.show(Progress(self.line()))
        except KeyboardInterrupt:
            state = self.state()
            self.show(Progress(f"{self.text} stopped waiting after {self.elapsed:.0f}s"))
            raise SvcMagicError(
                f"stopped waiting for {self.name} ({state or 'unknown state'}); the server goes on with it: "
                f"`%svc get {self.name}` shows where it is, `%svc logs {self.name}` what it printed") from None
        except BaseException:
            self.show(Progress(f"{self.text} failed"))
            raise
        finally:
            pool.shutdown(wait=False)

    def state(self) -> str:
        try:
            return self.client.get(self.name).status.state.value
        except ApiError:
            return ""

    def last_log_line(self) -> str:
        try:
            lines = self.client.logs(self.name, 1).strip().splitlines()
        except ApiError:
            return ""
        line = lines[-1].strip() if lines else ""
        return line if len(line) <= LOG_LINE_WIDTH else line[:LOG_LINE_WIDTH - 1] + "…"

    def line(self) -> str:
        """The progress line: operation, state, whole seconds, last log line."""
        out = f"{self.text} {self.state()} {self.elapsed:.0f}s"
        last = self.last_log_line()
        return f"{out} · {last}" if last else out
