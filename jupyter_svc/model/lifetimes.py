"""How long a service lives beyond its traffic: keep-warm windows, a bound kernel, an expiry.

The windows have the shape of KEDA's cron scaler (a ``start`` and an ``end`` cron expression in an
IANA ``timezone``), read by ``croniter`` and ``zoneinfo``. The schedule functions are pure (they take
the time), so the server's loop, the status and the tests read one definition of "warm".
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .safe_text import Line

#: the five fields of standard cron (minute hour day month weekday), or a macro such as @daily
_CRON_SHAPE = re.compile(r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|(\S+\s+){4}\S+)$")
_KERNEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
#: how far a schedule is searched for its next change (a window that never opens: no change)
_HORIZON_STEPS = 64


def check_cron(text: str) -> str:
    text = " ".join(text.split())
    if not _CRON_SHAPE.match(text) or not croniter.is_valid(text):
        raise ValueError(f"{text!r} is not a cron expression (five fields: minute hour day-of-month "
                         "month day-of-week, e.g. '0 8 * * 1-5'; or @daily, @hourly, ...)")
    return text


def check_zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone (e.g. 'UTC', 'Europe/Paris')") from None
    return text


def _check_kernel_id(text: str) -> str:
    if not _KERNEL_ID.match(text):
        raise ValueError("is not a kernel id (letters, digits, '.', '_' and '-')")
    return text


Cron = Annotated[str, AfterValidator(check_cron)]
ZoneName = Annotated[str, AfterValidator(check_zone)]
KernelId = Annotated[str, AfterValidator(_check_kernel_id)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KeepWarmWindow(_Model):
    """A recurring time in which the service stays up whatever its traffic."""

    start: Cron = Field(title="Opens", description="Cron expression of when the window opens, e.g. '0 8 * * 1-5'.")
    end: Cron = Field(title="Closes", description="Cron expression of when it closes, e.g. '0 18 * * 1-5'.")
    timezone: ZoneName = Field("UTC", title="Time zone", description="IANA zone the expressions are read in.")


class KernelEnd(str, Enum):
    delete = "delete"
    scale_to_zero = "scale_to_zero"


class KernelBinding(_Model):
    """The kernel a service belongs to: when that kernel shuts down or restarts, the service goes."""

    id: KernelId = Field(title="Kernel id", description="The Jupyter server's id of the kernel.")
    path: Line | None = Field(None, title="Notebook", description="The notebook that kernel runs (shown only).")
    on_end: KernelEnd = Field(KernelEnd.delete, title="When the kernel ends",
                              description="delete the service, or scale it to zero (its URL wakes it).")


class KeepWarmStatus(_Model):
    """Where the schedule stands: ``warm`` now (inside a window, or about to open one) and when that changes."""

    warm: bool = False
    next_change: datetime | None = Field(None, description="When warm flips; null when it never does.")


def _in_window(window: KeepWarmWindow, at: datetime) -> bool:
    """Inside ``[start, end)``: the latest start came after the latest end."""
    local = at.astimezone(ZoneInfo(window.timezone)) + timedelta(seconds=1)  # an occurrence at `at` counts
    last_start = croniter(window.start, local).get_prev(datetime)
    last_end = croniter(window.end, local).get_prev(datetime)
    return bool(last_start > last_end)


def warm_at(windows: list[KeepWarmWindow], at: datetime, lead: float = 0.0) -> bool:
    """Whether the service should run at ``at``: inside a window, or ``lead`` seconds before one."""
    ahead = at + timedelta(seconds=lead)
    return any(_in_window(w, at) or _in_window(w, ahead) for w in windows)


def _next_occurrences(window: KeepWarmWindow, after: datetime) -> list[datetime]:
    local = after.astimezone(ZoneInfo(window.timezone))
    return [croniter(expr, local).get_next(datetime) for expr in (window.start, window.end)]


def next_change(windows: list[KeepWarmWindow], at: datetime, lead: float = 0.0) -> datetime | None:
    """The first instant after ``at`` at which :func:`warm_at` flips, or None when it never does."""
    now = warm_at(windows, at, lead)
    cursor = at
    for _ in range(_HORIZON_STEPS):
        candidates = sorted({moment - delta for w in windows
                             for delta in (timedelta(0), timedelta(seconds=lead))
                             for moment in _next_occurrences(w, cursor + delta)
                             if moment - delta > cursor})
        if not candidates:
            return None
        for moment in candidates:
            if warm_at(windows, moment, lead) != now:
                return moment.astimezone(timezone.utc)
        cursor = candidates[-1]
    return None


def schedule_status(windows: list[KeepWarmWindow], at: datetime, lead: float = 0.0) -> KeepWarmStatus | None:
    if not windows:
        return None
    return KeepWarmStatus(warm=warm_at(windows, at, lead), next_change=next_change(windows, at, lead))
