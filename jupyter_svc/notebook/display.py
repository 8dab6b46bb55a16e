"""How services look: HTML in a notebook, aligned text in a terminal, from the same objects.

Each object has both ``_repr_html_`` and ``__repr__``, so the frontend picks what it can show;
the magics, the widgets and the CLI all render through here.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from jupyter_svc.client.api_calls import ApplyReport
from jupyter_svc.model.status import ServiceView
from jupyter_svc.model.units import format_duration

from .templates import Template

STATE_COLOURS = {
    "ready": "#2e7d32", "starting": "#f9a825", "waking": "#f9a825", "pending": "#9e9e9e",
    "stopping": "#9e9e9e", "scaled_to_zero": "#1565c0", "failed": "#c62828", "disabled": "#616161",
}
STATE_SYMBOLS = {"ready": "●", "failed": "✖", "scaled_to_zero": "○", "disabled": "⊘"}

Linker = Callable[[ServiceView], str]


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``'3m ago'`` style age; ``'-'`` when unknown."""
    if moment is None:
        return "-"
    now = now or datetime.now(timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 5:
        return "just now"
    return f"{format_duration(float(seconds if seconds < 60 else seconds // 60 * 60))} ago"


def until(moment: datetime, now: datetime | None = None) -> str:
    """``'in 3h'`` style wait; ``'now'`` once it has passed."""
    seconds = int((moment - (now or datetime.now(timezone.utc))).total_seconds())
    if seconds <= 0:
        return "now"
    return f"in {format_duration(float(seconds if seconds < 120 else seconds // 60 * 60))}"


def lifetime(view: ServiceView, now: datetime | None = None) -> str:
    """What ends or holds it besides traffic: its kernel, its keep-warm schedule, its expiry."""
    parts, spec, status = [], view.spec, view.status
    if spec.kernel is not None:
        then = ", then zero" if spec.kernel.on_end.value == "scale_to_zero" else ""
        parts.append(f"while kernel of {spec.kernel.path or spec.kernel.id[:8]} runs{then}")
    schedule = status.keep_warm
    if schedule is not None:
        change = "" if schedule.next_change is None else " " + until(schedule.next_change, now)
        parts.append(f"kept warm, ends{change}" if schedule.warm else f"warm next{change}" if change else "never warm")
    if status.expires_at is not None:
        parts.append(f"expires {until(status.expires_at, now)}")
    return "; ".join(parts) or "-"


def idle_window(view: ServiceView) -> str:
    return format_duration(view.spec.scale_to_zero) if view.spec.scale_to_zero is not None else "never"


def _described(view: ServiceView) -> str:
    """The description, after a warning a running service carries (e.g. reachable without login)."""
    warning = view.status.message.splitlines()[0] if view.status.state.value == "ready" and view.status.message else ""
    return " ".join(part for part in (f"⚠ {warning}" if warning else "", view.spec.description) if part)


def badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#9e9e9e")
    return (f'<span style="background:{colour};color:white;border-radius:8px;padding:1px 8px;'
            f'font-size:0.9em">{html.escape(state)}</span>')


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=False)).rstrip()
             for r in (headers, *rows)]
    return "\n".join(lines)


class ServiceTable:
    """``%svc list``: state with colour, link, idle window, last activity, restarts."""

    headers = ("NAME", "STATE", "URL", "IDLE", "LAST ACTIVITY", "RESTARTS", "LIFETIME", "DESCRIPTION")

    def __init__(self, views: Sequence[ServiceView], link: Linker) -> None:
        self.views = list(views)
        self._link = link

    def rows(self) -> list[list[str]]:
        return [[v.name, v.status.state.value, self._link(v), idle_window(v), ago(v.status.last_activity),
                 str(v.status.restarts), lifetime(v), _described(v)] for v in self.views]

    def __repr__(self) -> str:
        if not self.views:
            return "No services yet: create one with `%svc create NAME -- COMMAND` or `jupyter svc apply -f FILE`."
        return text_table(self.headers, self.rows())

    def _repr_html_(self) -> str:
        if not self.views:
            return f"<p>{html.escape(repr(self))}</p>"
        head = "".join(f"<th style='text-align:left'>{h.title()}</th>" for h in self.headers)
        body = []
        for view, row in zip(self.views, self.rows(), strict=True):
            link = html.escape(row[2])
            cells = [f"<b>{html.escape(row[0])}</b>", badge(row[1]),
                     f'<a href="{link}" target="_blank">{html.escape(view.status.url or row[2])}</a>',
                     *(html.escape(c) for c in row[3:])]
            title = html.escape(view.status.message)
            body.append(f"<tr title='{title}'>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells)
                        + "</tr>")
        return f"<table class='jupyter-svc-list'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class ServiceCard:
    """One service after an action: its state and link, or the error with the last log lines."""

    def __init__(self, view: ServiceView, link: str, logs: str = "", note: str = "") -> None:
        self.view, self.link, self.logs, self.note = view, link, logs, note

    @property
    def failed(self) -> bool:
        return self.view.status.state.value == "failed"

    @property
    def message_has_logs(self) -> bool:
        """The server's failure message quotes the log tail already: shown once, not twice."""
        return "last log lines:" in self.view.status.message

    @property
    def shown_logs(self) -> str:
        return "" if not self.failed or self.message_has_logs else self.logs.strip()

    def __repr__(self) -> str:
        state = self.view.status.state.value
        line = f"{STATE_SYMBOLS.get(state, '◌')} {self.view.name}: {state}"
        if state in ("ready", "scaled_to_zero", "starting", "waking"):
            line += f" at {self.link}"
        if self.note:
            line += f" ({self.note})"
        if self.view.status.message:
            line += f"\n  {self.view.status.message}"
        if self.shown_logs:
            line += "\n  last log lines:\n" + "\n".join("    " + x for x in self.shown_logs.splitlines())
        return line

    def _repr_html_(self) -> str:
        state = self.view.status.state.value
        link = html.escape(self.link)
        out = (f"<div class='jupyter-svc-card'><b>{html.escape(self.view.name)}</b> {badge(state)} "
               f'<a href="{link}" target="_blank">{link}</a>')
        if self.note:
            out += f" <i>{html.escape(self.note)}</i>"
        message, _, quoted = self.view.status.message.partition("\nlast log lines:\n")
        if message:
            out += f"<div>{html.escape(message)}</div>"
        logs = quoted or self.shown_logs
        if logs:
            out += f"<pre style='max-height:15em;overflow:auto'>{html.escape(logs.rstrip())}</pre>"
        return out + "</div>"


class Link:
    """``%svc open``: a clickable link in a notebook, the URL in a terminal."""

    def __init__(self, url: str, text: str = "") -> None:
        self.url, self.text = url, text or url

    def __repr__(self) -> str:
        return self.url

    def _repr_html_(self) -> str:
        url = html.escape(self.url)
        return f'<a href="{url}" target="_blank">{html.escape(self.text)}</a>'


class ApplyTable:
    """What ``apply`` did to each service."""

    def __init__(self, report: ApplyReport) -> None:
        self.report = report

    def __repr__(self) -> str:
        rows = [[r.name, r.action, r.message] for r in self.report.results]
        head = "dry run: " if self.report.dry_run else ""
        status = "ok" if self.report.ok else "FAILED"
        return f"{head}apply {status}\n" + (text_table(("NAME", "ACTION", "MESSAGE"), rows) if rows else "")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(r.name)}</td><td>{badge(r.action)}</td>"
                       f"<td>{html.escape(r.message)}</td></tr>" for r in self.report.results)
        title = ("dry run: " if self.report.dry_run else "") + ("applied" if self.report.ok else "apply failed")
        return f"<b>{title}</b><table><tr><th>Name</th><th>Action</th><th>Message</th></tr>{rows}</table>"


def type_of(prop: dict[str, Any]) -> str:
    """A JSON Schema property's type in a word or two, for the schema table."""
    if "anyOf" in prop:
        return " | ".join(type_of(p) for p in prop["anyOf"])
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    return str(prop.get("type", prop.get("format", "any")))


def schema_table(schema: dict[str, Any]) -> str:
    """``schema``: the fields a spec accepts, required ones starred."""
    required = set(schema.get("required", []))
    rows = [[("*" if key in required else "") + key, type_of(prop), str(prop.get("description", ""))]
            for key, prop in schema.get("properties", {}).items()]
    return text_table(("FIELD", "TYPE", "DESCRIPTION"), rows)


def templates_table(templates: Iterable[Template]) -> str:
    """``templates``: each template's parameters, whether a cell can be its source, whether it runs here."""
    rows = [[t.name, " ".join("--" + p.name.replace("_", "-") for p in t.params if p.kind != "argv"),
             "cell" if t.source_param else "", "yes" if t.available() else "not installed", t.description]
            for t in templates]
    return text_table(("TEMPLATE", "PARAMETERS", "FROM A CELL", "FRAMEWORK", "DESCRIPTION"), rows)
