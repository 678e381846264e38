"""The registry of every DynamoDB table: models are listed here once, and tests, the local stack
and the deploy template all create or describe tables from this list, so key schemas cannot drift.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.authz.models import IdentityItem
from chalicelib.authz.revocation import RevocationItem
from chalicelib.core.ratelimit import RateLimitCounter
from chalicelib.security_events.audit import AuditItem
from chalicelib.tickets.attachments.models import AttachmentModel
from chalicelib.tickets.idempotency import IdempotencyRecordModel  # Tickets
from chalicelib.tickets.models import TicketsItem  # Tickets


def table_models() -> list[type[Model]]:
    """One model per physical table (the one that defines its keys and indexes)."""
    return [
        IdentityItem,
        AuditItem,
        TicketsItem,  # Tickets
        IdempotencyRecordModel,  # Tickets: Powertools idempotency records
        AttachmentModel,  # Attachments
        RevocationItem,  # Identity: logged-out sessions and revoke-all markers
        # Rate limiting and containment counters (TTL on `expires_at`).
        RateLimitCounter,
    ]


def create_tables() -> None:
    """Create every table that does not exist yet (moto locally, or a sandbox account)."""
    for model in table_models():
        if not model.exists():
            model.create_table(wait=True)
