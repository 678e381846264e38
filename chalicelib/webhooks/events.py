"""Emitting webhook events: the domains' one entry point.

A service that changes something adds `outbox_item(...)` to the change's own transaction
(`tx.save(item, condition=EventModel.pk.does_not_exist())`), so the event exists exactly when the
change committed. Where a change cannot take another transaction item (bulk actions fill their
transactions), `record_after` writes the events right after the commit and never raises: a lost
event is logged, the change stands. Nothing here sends anything: the delivery function fans
the event out to the subscribed endpoints off the request path (`chalicelib.webhooks.delivery`).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk
from chalicelib.webhooks.models import DUE, EventModel, event_sk

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
COMMENT_CREATED = "comment.created"
ATTACHMENT_SCANNED = "attachment.scanned"
TICKET_SLA_BREACHED = "ticket.sla_breached"  # once per ticket and SLA target (tickets.sla_sweep)
EVENT_TYPES = (
    TICKET_CREATED,
    TICKET_UPDATED,
    COMMENT_CREATED,
    ATTACHMENT_SCANNED,
    TICKET_SLA_BREACHED,
)


def new_event_id() -> str:
    """32 hex digits, the first 12 the time in ms: ids sort by when they were made."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def delivery_body(
    event_id: str, event_type: str, organization_id: str, occurred_at: str, data: Any
) -> str:
    """The JSON body every delivery of the event carries (compact, keys in a fixed order)."""
    return json.dumps(
        {
            "id": event_id,
            "type": event_type,
            "timestamp": occurred_at,
            "organizationId": organization_id,
            "data": data,
        },
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def outbox_item(organization_id: str, event_type: str, data: Mapping[str, Any]) -> EventModel:
    """The outbox item of one event, to be saved in the change's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event type {event_type!r}")
    event_id = new_event_id()
    occurred_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    return EventModel(
        org_pk(organization_id),
        event_sk(event_id),
        event_id=event_id,
        organization_id=organization_id,
        event_type=event_type,
        occurred_at=occurred_at,
        body=delivery_body(event_id, event_type, organization_id, occurred_at, dict(data)),
        due=DUE,
        due_at=int(time.time()),
    )


def record_after(organization_id: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> int:
    """Write events right after a committed change (one batch); never raises. Returns how
    many were written."""
    items = [outbox_item(organization_id, kind, data) for kind, data in events]
    if not items:
        return 0
    try:
        with EventModel.batch_write() as batch:
            for item in items:
                batch.save(item)
    except Exception:
        logger.exception("webhook events could not be recorded", extra={"count": len(items)})
        return 0
    return len(items)
