"""How a failed ``%svc`` ends a cell: an error IPython shows as a short message, no traceback.

Raising (rather than printing) makes the cell fail, so "Run All" and nbconvert stop at it, as
they do for any other failing cell; ``_render_traceback_`` is IPython's hook for exceptions that
render themselves, so the user reads the message and the field-level details, not our stack.
"""

from __future__ import annotations

from jupyter_svc.client.api_calls import ApiError

_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


class SvcMagicError(Exception):
    """A ``%svc``/``%%svc`` that could not do what it was asked; the message says why."""

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or ["failed"]
        return [f"{_RED}{lines[0]}{_RESET}", *lines[1:]]


def exists_already(name: str) -> str:
    """Creating a service that exists, in the words of the notebook (not of the REST API)."""
    return (f"a service named {name!r} exists already: change it with `%svc update {name} --set KEY=VALUE`, "
            f"start it again with `%svc restart {name}`, or `%svc delete {name}` first to create it anew")


def reworded(exc: ApiError, subcommand: str, name: str) -> ApiError:
    """``exc`` with a message that says what to do in a notebook, where the server's speaks REST."""
    if exc.status_code == 409 and subcommand == "create":
        return ApiError(exists_already(name), exc.errors, exc.status_code)
    return exc
