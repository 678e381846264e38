"""The registry of every DynamoDB table: models are listed here once, and tests, the local stack
and the deploy template all create or describe tables from this list, so key schemas cannot drift.
"""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.attachments.models import AttachmentItem
from chalicelib.audit.models import AuditItem
from chalicelib.identity.models import IdentityItem, RevocationItem
from chalicelib.ratelimit.models import RateLimitItem
from chalicelib.tickets.models import IdempotencyItem, TicketsItem
from chalicelib.webhooks.models import WebhookItem


def table_models() -> list[type[Model]]:
    """One model per physical table (the one that defines its keys and indexes)."""
    return [
        IdentityItem,
        AuditItem,
        TicketsItem,
        IdempotencyItem,  # Powertools idempotency records
        AttachmentItem,
        RevocationItem,  # logged-out sessions and revoke-all markers
        # Rate limiting and containment counters (TTL on `expires_at`).
        RateLimitItem,
        # Webhook endpoints, outbox events and deliveries (TTL on `expires_at`).
        WebhookItem,
    ]


def create_tables() -> None:
    """Create every table that does not exist yet (moto locally, or a sandbox account)."""
    for model in table_models():
        if not model.exists():
            model.create_table(wait=True)
