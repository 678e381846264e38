"""Event-driven attachment functions: scan-on-put, the scan retry sweep, definitions refresh.

Each is its own Lambda function. They hold no logic: the pipeline lives in
`chalicelib.attachments` (see docs/attachments.md for the layer/image they need).

`scan_attachment` is a plain Lambda function (`lambda_function`), not `on_s3_event`: `chalice
package` cannot wire S3 notifications, so the uploads bucket sends its events to EventBridge and
the rule `infra.cfn_scanner` generates invokes this function with S3's "Object Created" event
(`detail.bucket.name`, `detail.object.key`, `detail.object.version-id`). EventBridge invokes
it asynchronously, so raising (engine failure) still gets Lambda's async retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Cron, Rate

from chalicelib.core.observability import logger, traced

if TYPE_CHECKING:
    from chalicelib.attachments.scanning.pipeline import Outcome

# The scanning pipeline and its engines are imported inside each function, not here: every
# function of the app (the API handler and the authorizers too) imports this module to register
# the scanner's functions, and only the scanner functions ever run the pipeline.

attachment_scanning_bp = Blueprint(__name__)

OBJECT_CREATED = ("aws.s3", "Object Created")


def created_object(event: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(bucket, key, version id) of an S3 "Object Created" EventBridge event, else None."""
    # Lazy: Powertools' event classes are only needed by the functions that receive S3 events.
    from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent

    parsed = S3EventBridgeNotificationEvent(event)
    if (parsed.get("source"), parsed.get("detail-type")) != OBJECT_CREATED:
        return None
    try:
        obj = parsed.detail.object
        bucket, key = parsed.detail.bucket.name, obj.key  # key: URL-decoded by Powertools
    except (KeyError, TypeError, AttributeError):
        return None
    version = obj.get("version-id")
    if not isinstance(bucket, str) or not isinstance(key, str) or not key:
        return None
    return bucket, key, str(version) if version else None


@attachment_scanning_bp.lambda_function(name="scan_attachment")
def scan_attachment(event: dict[str, Any], context: Any) -> list[dict[str, Any]]:
    """Object created in the uploads bucket (via EventBridge) -> scan. Raises (so Lambda
    retries) on engine failure; anything but an S3 "Object Created" event is ignored."""
    created = created_object(event)
    if created is None:
        logger.warning(
            "scan_attachment: not an S3 Object Created event",
            extra={"source": str(event.get("source"))[:64]},
        )
        return []
    from chalicelib.attachments.scanning import definitions, pipeline  # lazy, see above

    with traced("## scan_attachment") as annotate:
        outcomes = pipeline.process_s3_event([created], definitions.default_engine)
        annotate(outcome=",".join(sorted({o.status or o.action for o in outcomes})) or None)
    return [_public(outcome) for outcome in outcomes]


@attachment_scanning_bp.schedule(Rate(10, unit=Rate.MINUTES), name="retry_attachment_scans")
def retry_attachment_scans(event: Any) -> list[dict[str, Any]]:
    """The retry path for ERROR attachments and uploads whose event never arrived, then the
    rescan of CLEAN attachments judged by older definitions than the ones now served."""
    from chalicelib.attachments.scanning import definitions, pipeline  # lazy, see above

    with traced("## retry_attachment_scans") as annotate:
        outcomes = pipeline.retry_due_scans(definitions.default_engine)
        rescans = pipeline.rescan_stale_clean(definitions.default_engine)
        annotate(retried=len(outcomes), rescanned=len(rescans))
    return [_public(outcome) for outcome in [*outcomes, *rescans]]


@attachment_scanning_bp.schedule(Cron(17, "*/3", "*", "*", "?", "*"), name="refresh_av_definitions")
def refresh_av_definitions(event: Any) -> dict[str, Any]:
    """freshclam -> definitions bucket (files + manifest with the new version), every three
    hours; the scanners reload and the retry sweep rescans recent CLEAN attachments."""
    from chalicelib.attachments.scanning import definitions  # lazy, see above

    with traced("## refresh_av_definitions") as annotate:
        refreshed = definitions.refresh_definitions()
        annotate(updated_files=len(refreshed["updated"]))
    return refreshed


def _public(outcome: Outcome) -> dict[str, Any]:
    return {
        "action": outcome.action,
        "status": outcome.status,
        "attachmentId": outcome.attachment_id,
    }
