"""Event-driven attachment functions: scan-on-put, the scan retry sweep, definitions refresh.

Each is its own Lambda function. They hold no logic: the pipeline lives in
`chalicelib.tickets.attachments` (see docs/attachments.md for the layer/image they need).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Cron, Rate, S3Event

from chalicelib.core.settings import get_settings
from chalicelib.tickets.attachments.definitions import default_engine, refresh_definitions
from chalicelib.tickets.attachments.scanning import (
    Outcome,
    process_s3_event,
    retry_due_scans,
)

attachment_scanning_bp = Blueprint(__name__)


def _version_id(event: S3Event) -> str | None:
    record = event.to_dict()["Records"][0]
    version = record.get("s3", {}).get("object", {}).get("versionId")
    return str(version) if version else None


@attachment_scanning_bp.on_s3_event(
    bucket=get_settings().uploads_bucket, events=["s3:ObjectCreated:*"], name="scan_attachment"
)
def scan_attachment(event: S3Event) -> list[dict[str, Any]]:
    """ObjectCreated in the uploads bucket -> scan. Raises (so Lambda retries) on engine failure."""
    outcomes = process_s3_event([(event.bucket, event.key, _version_id(event))], default_engine)
    return [_public(outcome) for outcome in outcomes]


@attachment_scanning_bp.schedule(Rate(10, unit=Rate.MINUTES), name="retry_attachment_scans")
def retry_attachment_scans(event: Any) -> list[dict[str, Any]]:
    """The retry path for ERROR attachments and uploads whose event never arrived."""
    return [_public(outcome) for outcome in retry_due_scans(default_engine)]


@attachment_scanning_bp.schedule(Cron(17, "*/3", "*", "*", "?", "*"), name="refresh_av_definitions")
def refresh_av_definitions(event: Any) -> dict[str, Any]:
    """freshclam -> definitions bucket, every three hours."""
    return {"updated": refresh_definitions()}


def _public(outcome: Outcome) -> dict[str, Any]:
    return {
        "action": outcome.action,
        "status": outcome.status,
        "attachmentId": outcome.attachment_id,
    }
