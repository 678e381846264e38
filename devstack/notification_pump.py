"""Notifications for the local stack and the tests: no stream trigger or SQS event source runs
locally, so this pump does their part with the app's real functions.

- The webhooks table's stream: moto keeps the records in the table's in-memory shard (only
  `ListStreams` answers over the API), so they are taken from it, as `devstack.audit_stream`
  does for the audit table, filtered with `router.STREAM_FILTER`'s rule and handed to
  `route_notifications` in batches.
- The notifications queue: received over the SQS API (moto, with the redrive policy of
  `devstack.resources`), handed to `send_notifications` in SQS's event shape; what the function
  reports as `batchItemFailures` stays on the queue and comes back (after `maxReceiveCount`
  receives moto moves it to the dead-letter queue, as SQS does), the rest is deleted.

Every sent message is also written under `.local/mail/` by `devstack.mail_capture`.
"""

from __future__ import annotations

import threading
from typing import Any

from chalice.app import Chalice
from chalice.local import LambdaContext
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chalicelib.api.notifications import ROUTER_FUNCTION, SENDER_FUNCTION
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings
from chalicelib.notifications import queue
from chalicelib.notifications.router import matches_stream_filter
from devstack.audit_stream import _stream_json
from devstack.moto_lock import MOTO_LOCK

STREAM_BATCH_SIZE = 25  # the event source mapping's BatchSize (infra.cfn_notifications)
POLL_SECONDS = 0.5


def take_webhook_stream_records(limit: int = STREAM_BATCH_SIZE) -> list[dict[str, Any]]:
    """Up to `limit` records of the webhooks table's shard (oldest first), removed from it."""
    settings = get_settings()
    with MOTO_LOCK:
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.region]
        table = backend.tables.get(settings.table_name("webhooks"))
        shard = getattr(table, "stream_shard", None) if table is not None else None
        if shard is None:
            return []
        taken = shard.items[:limit]
        del shard.items[: len(taken)]
        return [_stream_json(record) for record in taken]


def route_once(app: Chalice) -> int:
    """One stream batch through the router; returns how many records were taken."""
    records = take_webhook_stream_records()
    batch = [record for record in records if matches_stream_filter(record)]
    if batch:
        app.handler_map[ROUTER_FUNCTION](
            {"Records": batch}, LambdaContext(ROUTER_FUNCTION, memory_size=256)
        )
    return len(records)


def _sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": get_settings().region,
    }


def send_once(app: Chalice, *, visibility_timeout: int = 0) -> int:
    """One receive of up to ten notices through the sender; returns how many were received.
    `visibility_timeout` 0: a failed notice is visible again at once (the next round)."""
    sqs, url = queue.client(), queue.queue_url()
    received = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=queue.SQS_BATCH,
        VisibilityTimeout=visibility_timeout,
        AttributeNames=["All"],
    ).get("Messages", [])
    if not received:
        return 0
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    result = app.handler_map[SENDER_FUNCTION](
        {"Records": [_sqs_record(message, arn) for message in received]},
        LambdaContext(SENDER_FUNCTION, memory_size=256),
    )
    failed = {failure["itemIdentifier"] for failure in result.get("batchItemFailures", [])}
    for message in received:
        if message["MessageId"] not in failed:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return len(received)


def drain(app: Chalice, *, max_rounds: int = 50) -> None:
    """Route the stream, then send until the queue is empty (or `max_rounds` receives: a
    notice that keeps failing comes back each round until it reaches the dead-letter queue)."""
    while route_once(app):
        pass
    for _ in range(max_rounds):
        if not send_once(app):
            return


class NotificationPump(threading.Thread):
    """`make run`: routes new events and sends queued notices continuously."""

    def __init__(self, app: Chalice, stop: threading.Event) -> None:
        super().__init__(name="notification-pump", daemon=True)
        self.app = app
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                while route_once(self.app):
                    pass
                # Failed notices come back after the queue's visibility timeout, as in AWS.
                while send_once(self.app, visibility_timeout=queue.VISIBILITY_TIMEOUT_SECONDS):
                    pass
            except Exception:  # the pump must outlive one bad round
                logger.exception("local notification pump round failed")
