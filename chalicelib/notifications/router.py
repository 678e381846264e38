"""From the event outbox to the notifications queue: the webhooks table's stream (new `EVT#`
items, keys only) -> the event -> its notices -> SQS.

A failing batch raises, so the stream retries it (a notice may then be queued twice; mail is
at-least-once). Nothing here runs on the API's request path: the event was written in the
change's own transaction, so a notice can be late but never invented or lost by the API call.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.core.observability import logger
from chalicelib.notifications import queue
from chalicelib.notifications.recipients import Notice, notices_for
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel

NOTIFYING_EVENTS = (
    webhook_events.TICKET_CREATED,
    webhook_events.COMMENT_CREATED,
    webhook_events.TICKET_UPDATED,
)
# What the event source mapping delivers (Lambda event filtering): new outbox events only.
STREAM_FILTER: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "EVT#"}]}}},
}


def matches_stream_filter(record: dict[str, Any]) -> bool:
    """What `STREAM_FILTER` lets through (the local stack and the tests filter with it)."""
    keys = record.get("dynamodb", {}).get("Keys", {})
    sk = keys.get("sk", {}).get("S", "")
    return record.get("eventName") == "INSERT" and isinstance(sk, str) and sk.startswith("EVT#")


def notices_of_stream(event: dict[str, Any]) -> list[Notice]:
    notices: list[Notice] = []
    for record in event.get("Records", []):
        if not matches_stream_filter(record):
            continue
        keys = record["dynamodb"]["Keys"]
        pk, sk = keys.get("pk", {}).get("S"), keys["sk"]["S"]
        if not pk:
            continue
        try:
            item = EventModel.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            continue
        if item.event_type in NOTIFYING_EVENTS:
            notices += notices_for(item)
    return notices


def route_stream_event(event: dict[str, Any]) -> dict[str, int]:
    """A batch of the stream -> the notices it causes, queued. Returns counts for the log."""
    notices = notices_of_stream(event)
    queued = queue.enqueue(notices) if notices else 0
    kinds: dict[str, int] = {}
    for notice in notices:
        kinds[notice.kind] = kinds.get(notice.kind, 0) + 1
    if notices:
        logger.info("notifications queued", extra={"queued": queued, "kinds": kinds})
    return {"queued": queued}
