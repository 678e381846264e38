"""Implementation of `security_events.emit`."""

from __future__ import annotations

from typing import Any

from chalicelib.core.observability import current_context, logger

CATEGORIES = frozenset(
    {
        "security.failed_login",
        "security.authorization_failure",
        "security.rate_limit_violation",
        "security.suspicious_activity",
        "security.malware_detected",
        "security.token_lifecycle",
    }
)

# Event fields that may be logged. Values must be short scalars; anything else is dropped.
ALLOWED_FIELDS = frozenset(
    {
        "reason",
        "status",
        "action",
        "target_type",
        "target_id",
        "token_id",
        "token_prefix",
        "token_type",
        "attempts",
        "limit",
        "window_seconds",
        "route_class",
        "signature",
        "attachment_id",
        "ticket_id",
        "target_organization_id",
        "email_hash",
        "scope",
        "role",
        "count",
        # Attachments
        "object_key",
    }
)
_MAX_VALUE_LENGTH = 200


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in fields.items():
        if key not in ALLOWED_FIELDS:
            continue
        if isinstance(value, bool | int | float) or value is None:
            cleaned[key] = value
        elif isinstance(value, str):
            cleaned[key] = value[:_MAX_VALUE_LENGTH]
    return cleaned


def emit(category: str, **fields: Any) -> dict[str, Any]:
    """Log one security event and return the record that was logged."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown security event category: {category}")
    ctx = current_context()
    record: dict[str, Any] = {
        "category": category,
        "request_id": ctx.request_id,
        "user_id": fields.pop("user_id", None) or ctx.user_id,
        "organization_id": fields.pop("organization_id", None) or ctx.organization_id,
        "route": ctx.route,
        "method": ctx.method,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
    }
    record.update(_clean(fields))
    logger.warning(category, extra=record)
    return record
