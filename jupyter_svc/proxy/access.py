"""What the proxy remembers of Jupyter's access checks, so that a busy app does not pay them whole
on every request.

Jupyter's own work per request (identity, host check, access log line) cost more CPU than the
proxying itself (benchmarks/README.md). The decisions stay Jupyter's: a user is remembered only
after the server's IdentityProvider accepted the very same credentials, for ``ttl`` seconds (as
JupyterHub's HubAuth caches its token lookups), and a Host header only after Jupyter's
``check_host`` allowed it. Nothing is remembered for a refusal, so a refusal is never cached.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import OrderedDict
from typing import Any, NamedTuple

from jupyter_server.log import log_request

#: Distinct credentials (browsers, tokens) remembered at once; the oldest are forgotten first.
MAX_REMEMBERED = 256


class AccessMemo:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._users: OrderedDict[tuple[str, str, str], tuple[float, Any, bool]] = OrderedDict()
        self._hosts: set[str] = set()

    def user(self, key: tuple[str, str, str] | None) -> tuple[Any, bool] | None:
        """The user these credentials authenticated as, and whether by token; None if unknown."""
        if key is None or self.ttl <= 0:
            return None
        entry = self._users.get(key)
        if entry is None:
            return None
        expires, user, by_token = entry
        if time.monotonic() >= expires:
            del self._users[key]
            return None
        return user, by_token

    def remember_user(self, key: tuple[str, str, str] | None, user: Any, by_token: bool) -> None:
        if key is None or user is None or self.ttl <= 0:
            return
        self._users[key] = (time.monotonic() + self.ttl, user, by_token)
        self._users.move_to_end(key)
        while len(self._users) > MAX_REMEMBERED:
            self._users.popitem(last=False)

    def host_allowed(self, host: str) -> bool:
        return host in self._hosts

    def allow_host(self, host: str) -> None:
        if len(self._hosts) < MAX_REMEMBERED:
            self._hosts.add(host)


def credentials_key(headers: Any, host: str, query_token: bool) -> tuple[str, str, str] | None:
    """What a request authenticates with. None when it logs in with ``?token=`` (Jupyter then
    sets its cookie: that must happen) or carries no credentials at all."""
    if query_token:
        return None
    authorization = headers.get("Authorization", "")
    cookie = headers.get("Cookie", "")
    if not authorization and not cookie:
        return None
    return host, authorization, cookie


def emits_debug(logger: logging.Logger) -> bool:
    """True if a debug record of ``logger`` reaches a handler that shows it. Jupyter's loggers are
    enabled for DEBUG and filter in their handlers, so ``isEnabledFor`` alone says yes."""
    if not logger.isEnabledFor(logging.DEBUG):
        return False
    current: logging.Logger | None = logger
    while current is not None:
        if any(handler.level <= logging.DEBUG for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def jupyter_log_metrics(log_function: Any) -> bool | None:
    """For Jupyter's own request logger (as the server sets it up): whether it records the
    request-duration histogram. None for any other logger, which then runs as configured."""
    if log_function is log_request:
        return True
    if isinstance(log_function, functools.partial) and log_function.func is log_request:
        return bool(log_function.keywords.get("record_prometheus_metrics", True))
    return None


class SuccessLog(NamedTuple):
    """Jupyter's request logging as the proxy found it on its first request: whether the log
    function is Jupyter's own (and records the histogram), and the logger its lines go to. Neither
    changes while the server runs; whether debug output shows is asked on every request."""

    metrics: bool | None
    logger: logging.Logger
