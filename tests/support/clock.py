"""A clock the rate limiter reads instead of `time`, so a test decides which window it is in."""

from __future__ import annotations


class FakeClock:
    """Replaces `time` inside the limiter so a test controls which window it is in."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now
