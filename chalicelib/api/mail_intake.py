"""The inbound-mail function: SES stores each received message in the inbound-mail bucket, and
the object's "Object Created" event (S3 -> EventBridge, like the uploads bucket's) invokes this
function, which reads the message and ingests it (`chalicelib.intake.service`).

It also accepts SES's own receipt event (a Lambda action placed after the S3 action of the same
receipt rule: `Records[].ses`), which adds the envelope recipients and SES's verdicts; without
it the verdicts come from the `X-SES-*` headers SES writes into the stored message.

No logic lives here. Raising (S3 or DynamoDB unavailable) gets Lambda's asynchronous retries;
a message already ingested is a no-op the second time (the Message-ID claim).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.attachment_scanning import created_object
from chalicelib.core.observability import logger, traced
from chalicelib.core.settings import get_settings

mail_intake_bp = Blueprint(__name__)

SES_PREFIX = "inbound/"  # where the receipt rule's S3 action writes (`inbound/<SES message id>`)


def _ses_records(event: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(bucket, key, receipt) of each record of an SES receipt event."""
    found = []
    for record in event.get("Records") or []:
        ses = record.get("ses") if isinstance(record, dict) else None
        if not isinstance(ses, dict):
            continue
        mail_id = str((ses.get("mail") or {}).get("messageId") or "")
        receipt = ses.get("receipt") or {}
        if mail_id and isinstance(receipt, dict):
            found.append((get_settings().inbound_mail_bucket, SES_PREFIX + mail_id, receipt))
    return found


def _read(bucket: str, key: str) -> bytes | None:
    from chalicelib.attachments import storage  # lazy: only this function reads mail

    settings = get_settings()
    head = storage.head(bucket, key, None)
    if head is None:
        return None
    if int(head.get("ContentLength", 0)) > settings.mail_max_message_bytes:
        return b""  # too large: ingest() records it without reading it
    body: bytes = storage.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@mail_intake_bp.lambda_function(name="ingest_mail")
def ingest_mail(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """A stored inbound message (S3 Object Created via EventBridge, or SES's receipt) ->
    ticket or comment. Anything else, and objects of other buckets, are ignored."""
    from chalicelib.intake import service  # lazy, like the scanner's pipeline

    settings = get_settings()
    jobs: list[tuple[str, str, dict[str, Any] | None]] = list(_ses_records(event))
    created = created_object(event)
    if created is not None:
        jobs.append((created[0], created[1], None))
    outcomes = []
    with traced("## ingest_mail") as annotate:
        for bucket, key, receipt in jobs:
            if bucket != settings.inbound_mail_bucket:
                logger.warning("ingest_mail: object of another bucket ignored")
                continue
            raw = _read(bucket, key)
            if raw is None:
                logger.warning("ingest_mail: stored message not found")
                continue
            if raw == b"":
                outcomes.append({"status": "TOO_LARGE", "reason": "message-size"})
                continue
            recipients = [str(r) for r in (receipt or {}).get("recipients") or []]
            outcome = service.ingest(
                raw, recipients=recipients, receipt=receipt, raw_bucket=bucket, raw_key=key
            )
            outcomes.append(outcome.as_dict())
        annotate(messages=len(outcomes))
    if not jobs:
        logger.warning("ingest_mail: not an inbound-mail event")
    return outcomes
