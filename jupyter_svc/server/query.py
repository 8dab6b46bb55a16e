"""The API's query parameters and small bodies, each read one way and refused with a 422 naming
it (``?follow=null`` used to mean "no", ``{"replicas": 1.0}`` "not an integer": neither is what
the OpenAPI document says)."""

from __future__ import annotations

from typing import Any

from tornado.web import RequestHandler

from jupyter_svc.model.errors import FieldError, SpecInvalid

#: The longest ``?wait=`` honoured: a client asking for more is answered after this.
MAX_WAIT = 600.0
_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no", "")


def _invalid(field: str, message: str) -> SpecInvalid:
    return SpecInvalid("invalid query", [FieldError(field, message)])


def wait_seconds(handler: RequestHandler) -> float:
    """``?wait=SECONDS`` (a number; clamped to 0..MAX_WAIT), 0 when absent."""
    raw = handler.get_query_argument("wait", "0") or "0"
    try:
        value = float(raw)
    except ValueError:
        raise _invalid("wait", "must be a number of seconds") from None
    if value != value:  # NaN
        raise _invalid("wait", "must be a number of seconds")
    return min(max(value, 0.0), MAX_WAIT)


def tail_lines(handler: RequestHandler) -> int:
    try:
        return int(handler.get_query_argument("tail", "100"))
    except ValueError:
        raise _invalid("tail", "must be an integer") from None


def flag(handler: RequestHandler, name: str) -> bool:
    """A boolean query parameter: true/1/yes or false/0/no (absent: false)."""
    raw = (handler.get_query_argument(name, "") or "").lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise _invalid(name, "must be true or false")


def replicas(body: dict[str, Any]) -> int:
    """``{"replicas": n}``: an integer (1.0 is one, as JSON Schema reads it) from 0 to 100."""
    value = body.get("replicas")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecInvalid("invalid scale", [FieldError("replicas", "must be an integer")])
    return value
