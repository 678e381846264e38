"""The tickets domain's clock: the one place "now" is read, so tests can freeze it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> str:
    """The current time as ISO 8601 UTC with milliseconds (fixed width: sorts as text)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
