"""What a service may be called: one rule for the spec, its JSON Schema and the URL routes.

A DNS-1123 label, so that a Kubernetes backend can use the name as is, and none of the names
the extension's own URLs take under ``/svc/``.
"""

from __future__ import annotations

import re
from typing import Any

from .patterns import whole

#: Names the proxy and the API reserve under ``/svc/`` (``svc/api/...`` is the REST API).
RESERVED_NAMES = frozenset({"api", "static"})
MAX_NAME_LENGTH = 63

#: A DNS-1123 label, its length limit included, unanchored (the routes embed it).
_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
NAME_PATTERN = whole(_LABEL)
_NAME = re.compile(NAME_PATTERN)

#: The rule as JSON Schema states it (the spec's schema, the lab panel's form).
NAME_JSON_SCHEMA: dict[str, Any] = {
    "type": "string", "pattern": NAME_PATTERN, "maxLength": MAX_NAME_LENGTH,
    "not": {"enum": sorted(RESERVED_NAMES)},
}


def check_name(value: str) -> str:
    """``value`` if it is a service name, else ValueError saying why."""
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters")
    if not _NAME.search(value):
        raise ValueError(
            "must be a DNS-1123 label: lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved by jupyter-svc")
    return value


def name_route(*, reserved: bool) -> str:
    """The URL route group ``(?P<name>...)`` for a path segment that is a service name. The REST
    API takes reserved names too (``PUT services/api`` then says why it is refused); the proxy
    leaves them out, followed as they are by ``/`` or the end of the path."""
    if reserved:
        return rf"(?P<name>{_LABEL})"
    left_out = "|".join(sorted(RESERVED_NAMES))
    return rf"(?P<name>(?!(?:{left_out})(?:/|$)){_LABEL})"
