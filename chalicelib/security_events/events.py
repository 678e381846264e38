"""Implementation of `security_events.emit`.

An event is one Powertools JSON log line: the request context (request id, user, organization,
route, route class, method, ip, user agent) plus event fields that pass `ALLOWED_FIELDS`
(anything else is dropped, values must be short scalars). An `email=` argument is never logged: it
becomes `email_hash`, a keyed hash (HMAC) of the normalized address. Every event also counts the
EMF metric `SecurityEvent` with dimensions stage, category and route class.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.keyed import email_hash
from chalicelib.core.observability import count_metric, current_context, logger
from chalicelib.core.settings import get_settings

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
        # Rate limiting and containment.
        "decision",
        "kind",
        "threshold",
        "flagged_for_review",
    }
)
# The context fields every event carries (null when unknown), in this order.
REQUIRED_FIELDS = (
    "category",
    "request_id",
    "user_id",
    "organization_id",
    "route",
    "route_class",
    "method",
    "ip",
    "user_agent",
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
    email = fields.pop("email", None)
    if isinstance(email, str) and email:
        fields["email_hash"] = email_hash(email)
    route_class = fields.pop("route_class", None) or ctx.route_class
    record: dict[str, Any] = {
        "category": category,
        "request_id": ctx.request_id,
        "user_id": fields.pop("user_id", None) or ctx.user_id,
        "organization_id": fields.pop("organization_id", None) or ctx.organization_id,
        "route": ctx.route,
        "route_class": route_class,
        "method": ctx.method,
        "ip": ctx.ip,
        "user_agent": ctx.user_agent,
    }
    record.update(_clean(fields))
    logger.warning(category, extra=record)
    count_metric(
        "SecurityEvent",
        {
            "stage": get_settings().stage,
            "category": category,
            "route_class": route_class or "none",
        },
    )
    return record
