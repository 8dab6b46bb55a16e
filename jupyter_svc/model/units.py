"""Kubernetes resource quantities and human durations, parsed once and compared exactly.

Kept apart from the models so that the spec validators and the Kubernetes object builders read
quantities the same way.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

from .patterns import whole

#: A Kubernetes quantity: a number without sign (or with '+'), then a binary or decimal suffix
#: or an exponent. The spec's JSON Schema states exactly this pattern.
QUANTITY_PATTERN = whole(r"(\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?")
_QUANTITY = re.compile(QUANTITY_PATTERN)
#: The largest quantity Kubernetes represents (an int64); larger ones are refused, not rounded.
MAX_QUANTITY = Decimal(2**63 - 1)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}


def parse_quantity(text: str) -> Decimal:
    """Value of a Kubernetes quantity such as ``100m``, ``1.2Gi`` or ``1``; ValueError if malformed."""
    match = _QUANTITY.search(text)
    if not match:
        if text.startswith("-") and _QUANTITY.search(text[1:]):
            raise ValueError(f"{text!r} is negative")
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity (examples: '100m', '0.5', '1.2Gi', '512Mi')"
        )
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise ValueError(f"{text!r} is not a number") from exc
    if suffix in _BINARY:
        value *= _BINARY[suffix]
    elif suffix in _DECIMAL:
        value *= _DECIMAL[suffix]
    elif abs(int(suffix[1:])) > 64:  # an exponent: decimal's own limits are far past any use
        raise ValueError(f"{text!r} is out of range (the exponent is over 64)")
    else:
        value *= Decimal(10) ** int(suffix[1:])
    if value > MAX_QUANTITY:
        raise ValueError(f"{text!r} is out of range (Kubernetes quantities stop at 2**63 - 1)")
    return value


#: The longest duration a spec takes (a year): longer ones overflow timers (``select`` refuses a
#: timeout past ~2**31 ms on some platforms) and mean "never", which 0 / 'never' already says.
MAX_DURATION = 365 * 86400.0

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

#: Named idle windows, as app-service platforms offer them, mapped to seconds.
IDLE_PRESETS: dict[str, float] = {
    "1m": 60.0,
    "5m": 300.0,
    "10m": 600.0,
    "30m": 1800.0,
    "1h": 3600.0,
    "2h": 7200.0,
    "4h": 14400.0,
    "8h": 28800.0,
    "1d": 86400.0,
    "one_minute": 60.0,
    "five_minutes": 300.0,
    "ten_minutes": 600.0,
    "thirty_minutes": 1800.0,
    "one_hour": 3600.0,
    "two_hours": 7200.0,
    "four_hours": 14400.0,
    "eight_hours": 28800.0,
    "one_day": 86400.0,
}


_PRESET_NAMES = "|".join(sorted(IDLE_PRESETS, key=len, reverse=True))
#: The durations parse_duration reads, as text (what format_duration writes is among them): a
#: preset, a plain number of seconds, or numbers with units. JSON Schema's own "duration" format
#: is ISO 8601's (PT5M), which this is not.
DURATION_PATTERN = whole(
    rf"(?:{_PRESET_NAMES})|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+")


def parse_duration(value: object) -> float:
    """Seconds in ``90``, ``"90s"``, ``"1h30m"``, ``"500ms"`` or a preset name like ``"one_hour"``."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '90s', '5m' or '2h', not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if text in IDLE_PRESETS:
            return IDLE_PRESETS[text]
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION_PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ValueError(
                    f"{value!r} is not a duration (examples: '90s', '5m', '1h30m', 'one_hour')"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    else:
        raise ValueError(f"expected a duration such as '90s' or '5m', got {type(value).__name__}")
    if not math.isfinite(seconds):
        raise ValueError(f"{value!r} is not a finite duration (examples: '90s', '5m', '1h')")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is longer than a year ({MAX_DURATION:g}s)")
    return seconds


def format_duration(seconds: float) -> str:
    """Shortest exact text for a duration: ``300`` -> ``"5m"``, ``5400`` -> ``"1h30m"``."""
    if seconds != int(seconds):
        # exact, and read back by parse_duration: ``{:g}`` wrote 1234567.5 as "1.23457e+06s" (which
        # it cannot read) and rounded 0.0004 to "0ms" (which means never)
        millis = seconds * 1000
        if seconds < 1 and millis == int(millis):
            return f"{int(millis)}ms"
        return f"{Decimal(repr(seconds)):f}s"  # repr: the shortest exact digits; :f, never an exponent
    rest = int(seconds)
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)
