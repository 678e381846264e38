"""The notifications queue (SQS): one message per notice, sent in batches of ten.

The queue's URL is looked up from its name (`NOTIFICATIONS_QUEUE`) once per container. A
message body names the notice only (organization, user, kind, ticket, comment, event ids): no
address, subject or body travels through the queue; the sender reads them when it sends.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.core.settings import get_settings
from chalicelib.notifications.recipients import Notice

SQS_BATCH = 10
# A notice whose send failed this many times moves to the dead-letter queue (the redrive policy
# of the queue in infra/cfn_notifications.py and in the local stack).
MAX_RECEIVE_COUNT = 5
# How long a received notice stays invisible to other consumers (above the sender's timeout).
VISIBILITY_TIMEOUT_SECONDS = 120


def dead_letter_queue_name(queue_name: str) -> str:
    """The dead-letter queue of the notifications queue `queue_name`."""
    return f"{queue_name}-dlq"


@functools.cache
def _client(region: str) -> Any:
    return boto3.client(
        "sqs",
        region_name=region,
        config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 3}),
    )


@functools.cache
def _queue_url(region: str, name: str) -> str:
    return str(_client(region).get_queue_url(QueueName=name)["QueueUrl"])


def client() -> Any:
    """The SQS client of this region (the local stack's pump uses it too)."""
    return _client(get_settings().region)


def queue_url() -> str:
    settings = get_settings()
    return _queue_url(settings.region, settings.notifications_queue)


class EnqueueFailed(RuntimeError):
    """Some notices could not be queued (the stream consumer's batch is retried)."""


def enqueue(notices: Sequence[Notice]) -> int:
    """Queue every notice; raises `EnqueueFailed` if SQS refused any. Returns how many."""
    url = queue_url()
    for start in range(0, len(notices), SQS_BATCH):
        chunk = notices[start : start + SQS_BATCH]
        response = client().send_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(index), "MessageBody": notice.to_json()}
                for index, notice in enumerate(chunk)
            ],
        )
        if response.get("Failed"):
            raise EnqueueFailed(f"{len(response['Failed'])} notices not queued")
    return len(notices)
