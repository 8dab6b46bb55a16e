"""Filling ``{port}``, ``{base_url}``, ``{name}``, ``{ports.NAME}`` and ``{unix_socket}`` into
commands and env (``{unix_socket}``: a socket path only the user can reach, which then is the
service's endpoint instead of ``{port}``; backends that cannot give one leave it unfilled).

Only these exact tokens are replaced: any other brace in a command (a Python one-liner, a JSON
argument) passes through untouched, unlike ``str.format``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import ServiceSpec

_TOKEN = re.compile(r"\{(port|base_url|name|unix_socket|ports\.[a-z][-a-z0-9]*)\}")
#: The placeholder's name (the key in the values a backend fills in).
UNIX_SOCKET = "unix_socket"


def fill(text: str, values: Mapping[str, str]) -> str:
    return _TOKEN.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def mentions(text: str, name: str) -> bool:
    """True when ``text`` holds the placeholder ``{name}``."""
    return "{" + name + "}" in text


def fields_mentioning(spec: ServiceSpec, name: str) -> list[str]:
    """The spec's fields that hold the placeholder ``{name}``: ``command``, ``env.KEY``, ``secret_env.KEY``."""
    command = [spec.command] if isinstance(spec.command, str) else list(spec.command or [])
    fields = ["command"] if any(mentions(part, name) for part in command) else []
    fields += [f"env.{key}" for key, value in spec.env.items() if mentions(value, name)]
    fields += [f"secret_env.{key}" for key, value in spec.secret_env.items()
               if mentions(value.get_secret_value(), name)]
    return fields


def fill_all(items: list[str], values: Mapping[str, str]) -> list[str]:
    return [fill(item, values) for item in items]


def env_var_for(service: str) -> str:
    """Env var that carries a dependency's URL: ``my-db`` -> ``SVC_MY_DB_URL``."""
    return "SVC_" + re.sub(r"[^A-Z0-9]", "_", service.upper()) + "_URL"
