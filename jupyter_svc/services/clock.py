"""The wall clock of schedules and expiries: the one seam through which tests move time.

Keep-warm windows open at 8:00 and expiries pass after hours; a test cannot wait for either. Every
lifetime decision reads :meth:`Clock.now`, so a test shifts ``offset`` and watches the real
server react within seconds. Traffic and timeouts use ``time.monotonic`` and are not affected.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


class Clock:
    def __init__(self) -> None:
        #: added to the real time; only tests set it
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset
