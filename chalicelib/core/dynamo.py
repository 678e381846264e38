"""Shared pynamodb plumbing: every model's Meta comes from here, so table names, region and
billing mode are decided once (from settings) for tests, the local stack and `infra/` alike."""

from __future__ import annotations

from typing import Any

from chalicelib.core.settings import get_settings


def table_meta(short_name: str, **extra: Any) -> Any:
    """A pynamodb `Meta` class for the logical table `short_name` (e.g. `tickets`)."""
    settings = get_settings()
    attrs: dict[str, Any] = {
        "table_name": settings.table_name(short_name),
        "region": settings.region,
        "billing_mode": "PAY_PER_REQUEST",
        # Fail fast inside Lambda's budget instead of botocore's long defaults.
        "connect_timeout_seconds": 2,
        "read_timeout_seconds": 5,
        "max_retry_attempts": 3,
    }
    attrs.update(extra)
    return type("Meta", (), attrs)


def is_condition_failure(error: Exception) -> bool:
    """True when a pynamodb error is a failed condition (not a real fault)."""
    code = getattr(error, "cause_response_code", None)
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}
