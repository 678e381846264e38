"""Send a `Message` through SES (the v2 API, raw MIME content so text and HTML both travel).

The sender and an optional configuration set come from settings. Locally and in the tests moto
records every message (the local stack also writes each one under `.local/mail/`). Failures
are logged by kind only: never the address, the subject or the body.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.core.observability import count_metric, logger
from chalicelib.core.settings import get_settings
from chalicelib.mail.message import Message


@functools.cache
def _client(region: str) -> Any:
    return boto3.client(
        "sesv2",
        region_name=region,
        config=Config(connect_timeout=3, read_timeout=5, retries={"max_attempts": 2}),
    )


def send(message: Message) -> str:
    """Send one message; returns the SES message id. Raises on an SES failure."""
    settings = get_settings()
    request: dict[str, Any] = {
        "FromEmailAddress": settings.mail_from,
        "Destination": {"ToAddresses": [message.to]},
        "Content": {"Raw": {"Data": message.to_mime(settings.mail_from)}},
    }
    if settings.mail_configuration_set:
        request["ConfigurationSetName"] = settings.mail_configuration_set
    try:
        response = _client(settings.region).send_email(**request)
    except Exception:
        logger.error("mail not sent", extra={"mail_kind": message.kind})
        count_metric("MailFailed", {"stage": settings.stage, "kind": message.kind})
        raise
    count_metric("MailSent", {"stage": settings.stage, "kind": message.kind})
    return str(response["MessageId"])
