"""Filling ``{port}``, ``{base_url}``, ``{name}`` and ``{ports.NAME}`` into commands and env.

Only these exact tokens are replaced: any other brace in a command (a Python one-liner, a JSON
argument) passes through untouched, unlike ``str.format``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_TOKEN = re.compile(r"\{(port|base_url|name|ports\.[a-z][-a-z0-9]*)\}")


def fill(text: str, values: Mapping[str, str]) -> str:
    return _TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def fill_all(items: list[str], values: Mapping[str, str]) -> list[str]:
    return [fill(item, values) for item in items]


def env_var_for(service: str) -> str:
    """Env var that carries a dependency's URL: ``my-db`` -> ``SVC_MY_DB_URL``."""
    return "SVC_" + re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_URL"
