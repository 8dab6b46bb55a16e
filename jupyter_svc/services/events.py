"""Changes fanned out to whoever listens (the events stream, and through it the panel)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from jupyter_svc.model.status import ServiceView


@dataclass
class Event:
    """A change pushed to subscribers: the new view, or a deletion."""

    kind: str  # "service" | "deleted"
    name: str
    view: ServiceView | None = None


class EventHub:
    """One unbounded queue per subscriber, so a slow reader never holds up the manager."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    @property
    def listening(self) -> bool:
        """Whether anyone listens: views are built for events only then."""
        return bool(self._queues)

    def publish(self, event: Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    async def subscribe(self) -> AsyncIterator[Event]:
        """Every change from now on, in order; the caller stops by leaving the loop."""
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.discard(queue)
