"""Security events and log lines as a test reads them from pytest's log capture."""

from __future__ import annotations

from typing import Any

import pytest

EVENT_KEYS = (
    "category",
    "request_id",
    "user_id",
    "organization_id",
    "route",
    "method",
    "ip",
    "reason",
    "status",
    "action",
    "token_id",
    "token_prefix",
    "target_id",
)


def read_events(
    caplog: pytest.LogCaptureFixture, category: str | None = None
) -> list[dict[str, Any]]:
    """Security events logged so far in the test, as dicts (and clears the capture)."""
    events = []
    for record in caplog.records:
        name = getattr(record, "category", None)
        if isinstance(name, str) and (category is None or name == category):
            events.append({key: getattr(record, key, None) for key in EVENT_KEYS})
    caplog.clear()
    return events


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, formatted as the Lambda would print it (JSON, extras included)."""
    from chalicelib.core.observability import logger

    formatter = logger.registered_formatter
    return "\n".join(formatter.format(record) for record in caplog.records)


def security_events(caplog: pytest.LogCaptureFixture, category: str) -> list[dict[str, Any]]:
    """The security event log records of a category (their structured fields)."""
    return [
        dict(record.__dict__)
        for record in caplog.records
        if getattr(record, "category", None) == category
    ]
