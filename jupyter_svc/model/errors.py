"""Errors the manager raises; the REST layer maps each to one HTTP status."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class SvcError(Exception):
    """Base: a message for people plus, where it applies, field-level details."""

    message: str
    errors: list[FieldError] = field(default_factory=list)
    status_code = 400

    def __str__(self) -> str:
        if not self.errors:
            return self.message
        details = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)
        return f"{self.message}: {details}"


class SpecInvalid(SvcError):
    status_code = 422


class NotFound(SvcError):
    status_code = 404


class Conflict(SvcError):
    status_code = 409


class Unavailable(SvcError):
    status_code = 503


@dataclass
class ServiceFailed(Unavailable):
    """A failed service refuses requests at once, with its failure, until its backoff ends
    (``retry_after`` seconds from now): requests never start a process each."""

    retry_after: float = 0.0


class StillStarting(Unavailable):
    """A wake outlasted the caller's wait: the start goes on (the proxy answers 504, the API 503)."""


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


#: How a check across fields (a model validator, which pydantic places at the model) names its field.
_CROSS_FIELD = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)*) :: (.+)$", re.DOTALL)


def cross_field(field: str, message: str) -> ValueError:
    """A validator error about ``field`` raised from a check that sees the whole model."""
    return ValueError(f"{field} :: {message}")


def _clean_message(msg: str) -> str:
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def from_validation_error(exc: ValidationError, prefix: str = "") -> list[FieldError]:
    """Pydantic's errors as ``field: reason`` pairs, without its internal noise."""
    out = []
    for err in exc.errors(include_url=False):
        loc = _location(tuple(err["loc"]))
        if prefix:
            loc = f"{prefix}.{loc}" if loc and not loc.startswith("[") else f"{prefix}{loc}"
        message = _clean_message(err["msg"])
        named = _CROSS_FIELD.match(message)
        if named:
            field, message = named.groups()
            loc = f"{loc}.{field}" if loc else field
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        out.append(FieldError(loc, message))
    return out
