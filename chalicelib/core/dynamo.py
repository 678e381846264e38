"""Shared pynamodb plumbing: every model's Meta comes from here, so table names, region and
billing mode are decided once (from settings) for tests, the local stack and `infra/` alike."""

from __future__ import annotations

import functools
from typing import Any

from pynamodb.connection import Connection

from chalicelib.core.settings import get_settings

# Timeouts and retries for every DynamoDB call: fail fast inside Lambda's budget instead of
# botocore's long defaults.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connect_timeout_seconds": 2,
    "read_timeout_seconds": 5,
    "max_retry_attempts": 3,
}


def table_meta(short_name: str, **extra: Any) -> Any:
    """A pynamodb `Meta` class for the logical table `short_name` (e.g. `tickets`)."""
    settings = get_settings()
    attrs: dict[str, Any] = {
        "table_name": settings.table_name(short_name),
        "region": settings.region,
        "billing_mode": "PAY_PER_REQUEST",
        **_CLIENT_OPTIONS,
    }
    attrs.update(extra)
    return type("Meta", (), attrs)


def is_condition_failure(error: Exception) -> bool:
    """True when a pynamodb error is a failed condition (not a real fault)."""
    code = getattr(error, "cause_response_code", None)
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


def connection() -> Connection:
    """The process's pynamodb connection (for transactions and batch calls across tables).

    Built once per region and reused: building a botocore client loads the service model, which
    cost ~60-100 ms on every request that made a new one.
    """
    return _connection(get_settings().region)


@functools.cache
def _connection(region: str) -> Connection:
    return Connection(region=region, **_CLIENT_OPTIONS)
