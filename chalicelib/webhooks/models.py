"""The `webhooks` table: per organization, its endpoints, its outbox events and their deliveries.

- `HOOK#<endpoint id>`: a registered endpoint (URL, events, active, signing secrets).
- `EVT#<event id>`: an outbox event, written in the same transaction as the change it reports;
  due for fan-out until a consumer has made one delivery per subscribed endpoint.
- `DLV#<endpoint id>#<delivery id>`: one delivery of one event to one endpoint, with its
  attempts; due while an attempt is pending. Delivery ids start with the time in ms, so an
  endpoint's log reads newest first with one Query.

Work that is due carries `due = "due"` and `due_at` (epoch seconds): the sparse `by_due` index
is the queue the delivery function drains. Finished events and deliveries expire (`expires_at`).
The secrets are stored as they are (a signature needs them); the table is encrypted with the
stage's KMS key and the secrets never leave the service except in the create/rotate response.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

ENDPOINT_PREFIX = "HOOK#"
EVENT_PREFIX = "EVT#"
DELIVERY_PREFIX = "DLV#"
DUE = "due"


class DueIndex(GlobalSecondaryIndex["WebhookItem"]):  # type: ignore[no-untyped-call]
    """Sparse: only events awaiting fan-out and deliveries awaiting an attempt, oldest first."""

    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    due_at = NumberAttribute(range_key=True)


class WebhookItem(Model):
    """Base of the webhooks table's items (key schema and index in one place)."""

    # The stream (keys only) feeds the delivery function: new events and deliveries at once.
    Meta = table_meta("webhooks", stream_view_type="KEYS_ONLY")
    pk = UnicodeAttribute(hash_key=True)  # ORG#<org>
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    due = UnicodeAttribute(null=True)
    due_at = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)
    by_due = DueIndex()


class EndpointModel(WebhookItem, discriminator="endpoint"):
    endpoint_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    url = UnicodeAttribute()
    events = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    active = BooleanAttribute(default=True)
    secret = UnicodeAttribute()
    # After a rotation: the old secret keeps signing (a second v1) until `previous_until`.
    previous_secret = UnicodeAttribute(null=True)
    previous_until = NumberAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    secret_rotated_at = UnicodeAttribute(null=True)


class EventModel(WebhookItem, discriminator="event"):
    event_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    body = UnicodeAttribute()  # the delivery body (JSON), the same for every endpoint


class AttemptMap(MapAttribute[str, Any]):
    at = UnicodeAttribute()
    status = NumberAttribute(null=True)
    latency_ms = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)


class DeliveryModel(WebhookItem, discriminator="delivery"):
    delivery_id = UnicodeAttribute()
    endpoint_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    event_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    body = UnicodeAttribute()
    status = UnicodeAttribute()  # PENDING | SUCCEEDED | FAILED
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    deadline_at = NumberAttribute()  # epoch seconds: no attempt is scheduled after this
    last_attempt_at = UnicodeAttribute(null=True)
    response_status = NumberAttribute(null=True)
    latency_ms = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    response_prefix = UnicodeAttribute(null=True)
    redelivery_of = UnicodeAttribute(null=True)
    history = ListAttribute[AttemptMap](of=AttemptMap, default=list)


def endpoint_sk(endpoint_id: str) -> str:
    return f"{ENDPOINT_PREFIX}{endpoint_id}"


def event_sk(event_id: str) -> str:
    return f"{EVENT_PREFIX}{event_id}"


def delivery_sk(endpoint_id: str, delivery_id: str) -> str:
    return f"{DELIVERY_PREFIX}{endpoint_id}#{delivery_id}"
