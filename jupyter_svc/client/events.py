"""The server's event stream (``GET svc/api/events``, server-sent events) as :class:`ServiceEvent`.

Apart from the call table because both clients read it line by line from their own transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from jupyter_svc.model.status import ServiceView


@dataclass
class ServiceEvent:
    """One server-sent event: ``service`` (the view after a change) or ``deleted`` (name only)."""

    kind: str
    name: str
    view: ServiceView | None = None


class EventParser:
    """Server-sent events, fed line by line (``event:``/``data:`` fields, blank line ends one)."""

    def __init__(self) -> None:
        self.kind: str = "message"
        self.data: list[str] = []

    def feed(self, line: str) -> ServiceEvent | None:
        if line.startswith("event:"):
            self.kind = line[6:].strip()
        elif line.startswith("data:"):
            self.data.append(line[5:].lstrip())
        elif not line:
            kind, text = self.kind, "\n".join(self.data)
            self.kind, self.data = "message", []
            if text:
                payload = json.loads(text)
                view = ServiceView.model_validate(payload) if kind == "service" else None
                return ServiceEvent(kind, str(payload.get("name", "")), view)
        return None  # comments (keep-alives) and unknown fields


def parse_events(lines: Iterator[str]) -> Iterator[ServiceEvent]:
    parser = EventParser()
    for line in lines:
        event = parser.feed(line)
        if event is not None:
            yield event
