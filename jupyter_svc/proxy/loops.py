"""Proxy loops: a mark this server adds to every request it forwards, and refuses to see again.

A service URL that reaches this very server (a name that resolves here only later, another proxy
in between) would otherwise send each request through the proxy again and again until every
upstream connection is taken. The mark is a random token per server process: a chain through
other jupyter-svc servers is fine, a request that comes back here is answered 508.
"""

from __future__ import annotations

import secrets
from collections.abc import MutableMapping
from typing import Any

HOP_HEADER = "X-Jupyter-Svc-Hop"
LOOP_REFUSED = ("proxy loop: this request already went through this server's proxy "
                "(a service URL leads back to the Jupyter server)")


class HopMark:
    def __init__(self) -> None:
        self.token = secrets.token_hex(8)

    def seen_in(self, headers: Any) -> bool:
        """True if a request (tornado's headers) already went through this server's proxy."""
        if HOP_HEADER not in headers:  # the usual case: one dict look-up
            return False
        return any(part.strip() == self.token
                   for value in headers.get_list(HOP_HEADER) for part in value.split(","))

    def mark(self, outgoing: MutableMapping[str, str], incoming: Any) -> None:
        """Add this server's token to the hops the request has made so far."""
        before = ", ".join(incoming.get_list(HOP_HEADER)) if HOP_HEADER in incoming else ""
        outgoing[HOP_HEADER] = f"{before}, {self.token}" if before else self.token
