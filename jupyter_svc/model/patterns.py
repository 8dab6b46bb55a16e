"""Regexes written once for both readers: Python's `re` and JSON Schema (ECMA-262 regexes, as the
lab panel's form validates them in the browser)."""

from __future__ import annotations


def whole(body: str) -> str:
    """A pattern that matches all of a string, alike in both dialects (and in JSON Schema's
    search semantics). Python's ``$`` also matches before a final newline, ECMA-262's never
    does: ``(?!\\n)`` rules that out. Write ``[0-9]``, not ``\\d`` (Unicode digits in Python)."""
    return rf"^(?:{body})$(?!\n)"
