"""Markdown building blocks for the generated pages: text from the code is escaped, never trusted
to be Markdown (a help text saying ``<name>`` must not become an HTML tag)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def text(value: object) -> str:
    """Plain text as Markdown that shows it as written, on one line (safe in a table cell)."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def code(value: object) -> str:
    """Inline code; a backtick inside gets a longer fence, a pipe is escaped for tables."""
    raw = str(value).replace("\n", " ")
    fence = "``" if "`" in raw else "`"
    pad = " " if raw.startswith("`") or raw.endswith("`") else ""
    return f"{fence}{pad}{raw.replace('|', chr(92) + '|')}{pad}{fence}"


def ref(title: str, label: str) -> str:
    """A cross-reference to a label that the generated pages (or the hand-written ones) define."""
    return f"{{ref}}`{title} <{label}>`"


def label(*parts: str) -> str:
    """A Sphinx label from names and paths: lower case, other characters as '-'."""
    return "-".join(re.sub(r"[^a-z0-9_]+", "-", p.lower()).strip("-") for p in parts if p)


def target(name: str) -> str:
    return f"({name})="


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A pipe table; cells must already be Markdown on one line (see :func:`text`, :func:`code`)."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fenced(body: str, language: str = "text") -> str:
    fence = "````" if "```" in body else "```"
    return f"{fence}{language}\n{body.rstrip()}\n{fence}"
