"""The REST API's request bodies: bounded in size as they arrive, and in nesting once parsed.

A body larger than ``api_max_body_size`` is not kept (its bytes are read and dropped, so the
answer is a clear 413, not a cut connection); JSON nested deeper than MAX_JSON_DEPTH is a 400
(Python's parser and every recursive walk after it would otherwise end in a RecursionError: a
500).
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_svc.model.errors import SvcError

#: Levels of objects and arrays a request body may nest (a spec needs 4).
MAX_JSON_DEPTH = 32


class BadRequest(SvcError):
    status_code = 400


class BodyTooLarge(SvcError):
    status_code = 413


class BodyCollector:
    """The body's chunks up to ``limit`` bytes; past that, only the count."""

    def __init__(self, limit: int, declared: int | None) -> None:
        self.limit, self.size = limit, 0
        self.chunks: list[bytes] = []
        self.too_large = declared is not None and declared > limit

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.too_large = True
            self.chunks.clear()
        elif not self.too_large:
            self.chunks.append(chunk)

    def body(self) -> bytes:
        if self.too_large:
            raise BodyTooLarge(f"request body is larger than {self.limit} bytes "
                               "(SvcExtension.api_max_body_size)")
        return b"".join(self.chunks)


def _depth_within(data: Any, limit: int) -> bool:
    """Walks without recursion: a deep document cannot exhaust the stack here."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def parse_json(raw: bytes) -> Any:
    """The body as JSON (``null`` when empty), or BadRequest saying what is wrong with it."""
    try:
        data = json.loads(raw or b"null")
    except RecursionError:
        raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    if not _depth_within(data, MAX_JSON_DEPTH):
        raise BadRequest(f"request body nests deeper than {MAX_JSON_DEPTH} levels")
    return data
