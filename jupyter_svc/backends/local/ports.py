"""Free loopback ports for services with ``port: 0``."""

from __future__ import annotations

import random
import socket
import time

from jupyter_svc.model.errors import SvcError


class PortAllocator:
    """Hands out free loopback ports from a range, never the same one twice in a short while."""

    def __init__(self, low: int, high: int, host: str = "127.0.0.1") -> None:
        self.low, self.high, self.host = low, high, host
        self._recent: dict[int, float] = {}

    def allocate(self) -> int:
        now = time.monotonic()
        self._recent = {p: t for p, t in self._recent.items() if now - t < 30}
        for _ in range(200):
            port = random.randint(self.low, self.high)
            if port in self._recent:
                continue
            with socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((self.host, port))
                except OSError:
                    continue
            self._recent[port] = now
            return port
        raise SvcError(f"no free port in {self.low}-{self.high}")
