"""Scan results as events: every final verdict is put on the EventBridge bus `SCAN_EVENTS_BUS`.

`source: deskguard.attachments`, `detail-type: Attachment Scanned`, detail with the organization,
ticket and attachment ids, the status, the signature, the definitions version, the reason of a
rejection and whether it was a rescan. Never the filename or any content: consumers (ops
alerting, a ticket workflow, a SIEM) get what they need to react and nothing a user wrote.

Publishing happens after the verdict is stored; a failure to publish is logged (and counted by
the log metric) but never changes or delays the verdict.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import Any

import boto3

from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

SOURCE = "deskguard.attachments"
DETAIL_TYPE = "Attachment Scanned"


@functools.cache
def _client(region: str) -> Any:
    return boto3.client("events", region_name=region)


def verdict_detail(
    *,
    organization_id: str,
    ticket_id: str,
    attachment_id: str,
    status: str,
    signature: str | None,
    definitions_version: str | None,
    reason: str | None,
    scanned_at: datetime,
    rescan: bool,
) -> dict[str, Any]:
    return {
        "organizationId": organization_id,
        "ticketId": ticket_id,
        "attachmentId": attachment_id,
        "status": status,
        "signature": signature,
        "definitionsVersion": definitions_version,
        "reason": reason,
        "scannedAt": scanned_at.isoformat(timespec="seconds"),
        "rescan": rescan,
    }


def publish_verdict(detail: dict[str, Any]) -> bool:
    """Put one `Attachment Scanned` event on the bus; False (logged) when it did not go out."""
    settings = get_settings()
    if not settings.scan_events_bus:
        return False
    entry = {
        "Source": SOURCE,
        "DetailType": DETAIL_TYPE,
        "Detail": json.dumps(detail, sort_keys=True),
        "EventBusName": settings.scan_events_bus,
        "Resources": [],
    }
    try:
        response = _client(settings.region).put_events(Entries=[entry])
    except Exception as error:
        logger.error("scan event not published", extra={"error": type(error).__name__})
        return False
    if response.get("FailedEntryCount"):
        code = response["Entries"][0].get("ErrorCode")
        logger.error("scan event not published", extra={"error": code})
        return False
    return True
