"""Request and response schemas of the webhook admin routes (`XOut.dump(...)` is the body)."""

from __future__ import annotations

from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.core.schemas import Out, UtcTimestamp, iso_from_epoch
from chalicelib.webhooks.endpoints import IssuedSecret
from chalicelib.webhooks.events import EVENT_TYPES
from chalicelib.webhooks.transport import MAX_URL_LENGTH

EventType = Literal[
    "ticket.created",
    "ticket.updated",
    "comment.created",
    "attachment.scanned",
    "ticket.sla_breached",
]
assert set(get_args(EventType)) == set(EVENT_TYPES)


class CreateWebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    url: str = Field(min_length=8, max_length=MAX_URL_LENGTH)
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES))
    active: bool = True


class UpdateWebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    url: str | None = Field(default=None, min_length=8, max_length=MAX_URL_LENGTH)
    events: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EVENT_TYPES))
    active: bool | None = None


class WebhookOut(Out):
    """An endpoint as listings show it: never its secret."""

    id: str
    url: str
    events: list[EventType]
    active: bool
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    secret_rotated_at: UtcTimestamp | None
    # While a rotated-out secret still signs deliveries, until when; else null.
    previous_secret_expires_at: UtcTimestamp | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored endpoint (`webhooks.models.EndpointModel`)."""
        return super().of(_fields(source))


class WebhookSecretOut(WebhookOut):
    """An endpoint with its new signing secret, shown this once."""

    secret: str

    @classmethod
    def of(cls, source: Any) -> Self:
        """From `endpoints.IssuedSecret`."""
        assert isinstance(source, IssuedSecret)
        return super(WebhookOut, cls).of({**_fields(source.item), "secret": source.secret})


def _fields(item: Any) -> dict[str, Any]:
    return {
        "id": item.endpoint_id,
        "url": item.url,
        "events": list(item.events),
        "active": bool(item.active),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "secret_rotated_at": item.secret_rotated_at,
        "previous_secret_expires_at": (
            iso_from_epoch(int(item.previous_until)) if item.previous_until is not None else None
        ),
    }


class DeliveryOut(Out):
    """One delivery in an endpoint's log: outcome, timing and a short response prefix only."""

    id: str
    webhook_id: str
    event_id: str
    event_type: EventType
    status: Literal["PENDING", "SUCCEEDED", "FAILED"]
    attempts: int
    created_at: UtcTimestamp
    last_attempt_at: UtcTimestamp | None
    next_attempt_at: UtcTimestamp | None  # while PENDING
    response_status: int | None
    latency_ms: int | None
    error: str | None
    response_prefix: str | None
    redelivery_of: str | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored delivery (`webhooks.models.DeliveryModel`)."""
        return super().of(
            {
                "id": source.delivery_id,
                "webhook_id": source.endpoint_id,
                "event_id": source.event_id,
                "event_type": source.event_type,
                "status": source.status,
                "attempts": int(source.attempts),
                "created_at": source.created_at,
                "last_attempt_at": source.last_attempt_at,
                "next_attempt_at": (
                    iso_from_epoch(int(source.due_at))
                    if source.status == "PENDING" and source.due_at is not None
                    else None
                ),
                "response_status": (
                    int(source.response_status) if source.response_status is not None else None
                ),
                "latency_ms": int(source.latency_ms) if source.latency_ms is not None else None,
                "error": source.error,
                "response_prefix": source.response_prefix,
                "redelivery_of": source.redelivery_of,
            }
        )
