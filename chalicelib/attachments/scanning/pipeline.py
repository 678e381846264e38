"""The scan-on-put pipeline, run for every object created in the uploads bucket.

    record? -> still scannable? -> real size -> ClamAV -> sniffed type -> CLEAN
       |             |               |            |             |
    delete +     delete the      REJECTED     INFECTED      REJECTED
    suspicious   new version    (quarantine) (quarantine,  (quarantine)
                 + suspicious                 malware event)

Fail closed: when the engine cannot give a verdict the attachment becomes ERROR (tagged
`av-status=ERROR`), joins the retry queue and `ScanFailed` is raised so the Lambda's own async
retries run too. Nothing but a positive "clean" from the engine ever leads to CLEAN.

Why one module of this size: each step (size, sniff, extension, engine, verdict, quarantine,
tagging, audit, event, rescan) changes the same attachment record under the same fail-closed
rule; kept together, the order of the steps and what each may leave behind read top to bottom.
"""

from __future__ import annotations

import dataclasses
import os
import random
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.attachments import storage
from chalicelib.attachments.filenames import extension_problem
from chalicelib.attachments.models import (
    RETRY_QUEUE,
    SCANNABLE,
    AttachmentItem,
    AttachmentStatus,
    attachment_sk,
    clean_day,
)
from chalicelib.attachments.scanning.engine import ScanEngine, ScanEngineError, Verdict
from chalicelib.attachments.scanning.events import publish_verdict, verdict_detail
from chalicelib.attachments.scanning.sniff import matches_declared, sniff_file
from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import (
    RequestContext,
    logger,
    reset_context,
    set_context,
)
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.security_events import emit
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel

SCANNER_ACTOR = "system:scanner"
MAX_SCAN_ATTEMPTS = 5
_RETRY_DELAYS_MINUTES = (1, 5, 15, 60, 240)
_AUDIT_BUSY_ATTEMPTS = 12


class ScanFailed(Exception):
    """The engine gave no verdict; the attachment is in ERROR and queued for a retry."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the pipeline did with one object (returned for logs and tests)."""

    action: str  # scanned | deleted_orphan | deleted_reupload | gone | ignored | stale
    status: str | None = None
    attachment_id: str | None = None
    signature: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


def _tags(status: str, signature: str | None, at: datetime) -> dict[str, str]:
    return {
        "av-status": status,
        "av-signature": (signature or "none")[:256],
        "av-scanned-at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def find_record(organization_id: str, ticket_id: str, attachment_id: str) -> AttachmentItem | None:
    try:
        return AttachmentItem.get(
            org_pk(organization_id), attachment_sk(ticket_id, attachment_id), consistent_read=True
        )
    except DoesNotExist:
        return None


def _record_decision(
    record: AttachmentItem,
    status: AttachmentStatus,
    *,
    at: datetime,
    version_id: str | None,
    size: int | None = None,
    sniffed_type: str | None = None,
    signature: str | None = None,
    reason: str | None = None,
    quarantine_key: str | None = None,
    definitions_version: str | None = None,
    rescan: bool = False,
) -> bool:
    """Write the decision and its audit record, then publish a final verdict as an event;
    False if the record is no longer scannable (or, for a rescan, no longer CLEAN)."""
    actions: list[Any] = [
        AttachmentItem.status.set(status.value),
        AttachmentItem.scanned_at.set(at),
        AttachmentItem.scan_attempts.add(1),
    ]
    optional: list[tuple[Any, Any]] = [
        (AttachmentItem.version_id, version_id),
        (AttachmentItem.size, size),
        (AttachmentItem.sniffed_type, sniffed_type),
        (AttachmentItem.signature, signature),
        (AttachmentItem.reason, reason),
        (AttachmentItem.quarantine_key, quarantine_key),
        (AttachmentItem.definitions_version, definitions_version),
    ]
    actions += [attr.set(value) for attr, value in optional if value is not None]
    if status is AttachmentStatus.CLEAN:
        actions += [
            AttachmentItem.clean_day.set(clean_day(at)),
            AttachmentItem.clean_at.set(at.isoformat()),
        ]
    elif rescan:
        actions += [AttachmentItem.clean_day.remove(), AttachmentItem.clean_at.remove()]
    if status is AttachmentStatus.ERROR and int(record.scan_attempts) + 1 < MAX_SCAN_ATTEMPTS:
        delay = _RETRY_DELAYS_MINUTES[
            min(int(record.scan_attempts), len(_RETRY_DELAYS_MINUTES) - 1)
        ]
        actions += [
            AttachmentItem.retry_queue.set(RETRY_QUEUE),
            AttachmentItem.retry_at.set((at + timedelta(minutes=delay)).isoformat()),
        ]
    else:
        actions += [AttachmentItem.retry_queue.remove(), AttachmentItem.retry_at.remove()]

    condition = (
        (AttachmentItem.status == AttachmentStatus.CLEAN.value)
        & (AttachmentItem.version_id == record.version_id)
        if rescan
        else AttachmentItem.status.is_in(*SCANNABLE)
    )

    event = (
        None
        if status is AttachmentStatus.ERROR
        else webhook_events.outbox_item(
            record.organization_id,
            webhook_events.ATTACHMENT_SCANNED,
            {
                "id": record.attachment_id,
                "ticketId": record.ticket_id,
                "filename": record.filename,
                "contentType": sniffed_type or record.sniffed_type or record.declared_type,
                "size": int(size if size is not None else record.declared_size),
                "status": status.value,
                "scannedAt": at.isoformat(),
                "rescan": rescan,
            },
        )
    )

    def build(tx: TransactWrite) -> None:
        tx.update(record, actions=actions, condition=condition)
        if event is not None:  # a final verdict: the webhook event commits with it
            tx.save(event, condition=EventModel.pk.does_not_exist())

    entry = AuditEntry(
        organization_id=record.organization_id,
        actor_id=SCANNER_ACTOR,
        action="attachment.rescan_result" if rescan else "attachment.scan_result",
        target_type="attachment",
        target_id=record.attachment_id,
        before={"status": record.status},
        after={"status": status.value, "signature": signature, "reason": reason},
    )
    for attempt in range(_AUDIT_BUSY_ATTEMPTS):
        try:
            transact(entry, build)
        except TransactWriteError:
            return False
        except Conflict:
            # The organization's audit chain is busy (many verdicts of one organization at
            # once): a scan is not latency bound, so wait and write again rather than leave
            # the attachment PENDING_SCAN.
            if attempt == _AUDIT_BUSY_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.02, 0.1) * (attempt + 1))  # noqa: S311 (jitter)
        else:
            break
    if status is not AttachmentStatus.ERROR:
        publish_verdict(
            verdict_detail(
                organization_id=record.organization_id,
                ticket_id=record.ticket_id,
                attachment_id=record.attachment_id,
                status=status.value,
                signature=signature,
                definitions_version=definitions_version,
                reason=reason,
                scanned_at=at,
                rescan=rescan,
            )
        )
    return True


def process_object(
    bucket: str,
    key: str,
    version_id: str | None,
    engine_factory: Callable[[], ScanEngine],
) -> Outcome:
    """Run the pipeline for one created object (see the module docstring)."""
    settings = get_settings()
    if bucket != settings.uploads_bucket:
        logger.warning("scan event for an unexpected bucket", extra={"bucket": bucket})
        return Outcome("ignored")
    ids = storage.parse_key(key)
    record = find_record(*ids) if ids else None
    if record is None or record.s3_key != key:
        # No attachment owns this key: nothing stored under it is legitimate.
        storage.delete_all_versions(bucket, key)
        emit(
            "security.suspicious_activity",
            reason="object_without_attachment",
            object_key=key[:200],
            organization_id=ids[0] if ids else None,
        )
        return Outcome("deleted_orphan")
    token = set_context(RequestContext(organization_id=record.organization_id))
    try:
        return _process_record(record, bucket, key, version_id, engine_factory)
    finally:
        reset_context(token)


def _process_record(  # noqa: PLR0911 (one return per pipeline outcome)
    record: AttachmentItem,
    bucket: str,
    key: str,
    version_id: str | None,
    engine_factory: Callable[[], ScanEngine],
) -> Outcome:
    settings = get_settings()
    aid = record.attachment_id
    meta = storage.head(bucket, key, version_id)
    if meta is None:
        return Outcome("gone", record.status, aid)
    # Events from a versioned bucket carry the version; without one, pin the current version now
    # so every later step (tags, quarantine, the download link) addresses the bytes scanned.
    version_id = version_id or meta.get("VersionId")
    if version_id == "null":  # unversioned bucket
        version_id = None
    if record.status not in SCANNABLE:
        if version_id and version_id != record.version_id:
            # A second upload over a key whose verdict is final (the presigned POST is still
            # valid for a few minutes): it is never scanned or served; drop it.
            storage.delete_version(bucket, key, version_id)
            emit(
                "security.suspicious_activity",
                reason="reupload_after_verdict",
                attachment_id=aid,
                ticket_id=record.ticket_id,
            )
            return Outcome("deleted_reupload", record.status, aid)
        return Outcome("stale", record.status, aid)
    size = int(meta["ContentLength"])
    at = _now()
    if size < 1 or size > settings.attachment_max_bytes or size != int(record.declared_size):
        return _reject(record, key, version_id, at, size=size, sniffed=None, reason="size")

    with tempfile.TemporaryDirectory(prefix="scan-", dir=settings.scan_tmp_dir or None) as work:
        path = os.path.join(work, "object")
        try:
            storage.download(bucket, key, version_id, path, settings.attachment_max_bytes)
        except ValueError:
            return _reject(record, key, version_id, at, size=size, sniffed=None, reason="size")
        try:
            result = engine_factory().scan_file(path)
        except ScanEngineError as error:
            logger.error("scan engine failed", extra={"attachment_id": aid, "error": str(error)})
            storage.tag(bucket, key, version_id, _tags("ERROR", None, at))
            _record_decision(
                record, AttachmentStatus.ERROR, at=at, version_id=version_id, reason="engine_error"
            )
            raise ScanFailed(str(error)) from None
        sniffed = sniff_file(path)

    if result.verdict is Verdict.INFECTED:
        tags = _tags("INFECTED", result.signature, at)
        quarantine_key = storage.quarantine(key, version_id, "INFECTED", tags)
        _record_decision(
            record,
            AttachmentStatus.INFECTED,
            at=at,
            version_id=version_id,
            size=size,
            sniffed_type=sniffed,
            signature=result.signature,
            quarantine_key=quarantine_key,
            definitions_version=result.definitions_version,
        )
        emit(
            "security.malware_detected",
            attachment_id=aid,
            ticket_id=record.ticket_id,
            signature=result.signature,
            user_id=record.uploader_id,
            organization_id=record.organization_id,
        )
        return Outcome("scanned", AttachmentStatus.INFECTED.value, aid, result.signature)
    if not matches_declared(record.declared_type, sniffed):
        return _reject(record, key, version_id, at, size=size, sniffed=sniffed, reason="type")
    if extension_problem(record.filename, record.declared_type) is not None:
        # A record from before the extension rule (or written around it): the name would make
        # a desktop run or render the file.
        return _reject(record, key, version_id, at, size=size, sniffed=sniffed, reason="extension")
    storage.tag(bucket, key, version_id, _tags("CLEAN", None, at))
    decided = _record_decision(
        record,
        AttachmentStatus.CLEAN,
        at=at,
        version_id=version_id,
        size=size,
        sniffed_type=sniffed,
        definitions_version=result.definitions_version,
    )
    if not decided:
        # Another upload of the same key was decided first; this version is never served.
        current = find_record(record.organization_id, record.ticket_id, aid)
        if current is None or current.version_id != version_id:
            storage.delete_version(bucket, key, version_id)
        return Outcome("stale", current.status if current else None, aid)
    return Outcome("scanned", AttachmentStatus.CLEAN.value, aid)


def _reject(
    record: AttachmentItem,
    key: str,
    version_id: str | None,
    at: datetime,
    *,
    size: int,
    sniffed: str | None,
    reason: str,
) -> Outcome:
    tags = {**_tags("REJECTED", None, at), "av-reason": reason}
    quarantine_key = storage.quarantine(key, version_id, "REJECTED", tags)
    _record_decision(
        record,
        AttachmentStatus.REJECTED,
        at=at,
        version_id=version_id,
        size=size,
        sniffed_type=sniffed,
        reason=reason,
        quarantine_key=quarantine_key,
    )
    logger.info(
        "attachment rejected",
        extra={"attachment_id": record.attachment_id, "reason": reason, "sniffed_type": sniffed},
    )
    return Outcome("scanned", AttachmentStatus.REJECTED.value, record.attachment_id)


def process_s3_event(
    records: list[tuple[str, str, str | None]], engine_factory: Callable[[], ScanEngine]
) -> list[Outcome]:
    """Run the pipeline for (bucket, key, version id) triples; the first ScanFailed is raised
    after every record was tried, so one bad object does not starve the others."""
    outcomes: list[Outcome] = []
    failure: ScanFailed | None = None
    for bucket, key, version_id in records:
        try:
            outcomes.append(process_object(bucket, key, version_id, engine_factory))
        except ScanFailed as error:
            failure = failure or error
    if failure is not None:
        raise failure
    return outcomes


def due_retries(limit: int = 25) -> list[AttachmentItem]:
    """Attachments whose scan is due for a retry (sparse index; scheduled function only)."""
    now = _now().isoformat()
    due: list[AttachmentItem] = []
    for key_only in AttachmentItem.retry_index.query(
        RETRY_QUEUE, AttachmentItem.retry_at <= now, limit=limit
    ):
        record = AttachmentItem.get(key_only.pk, key_only.sk, consistent_read=True)
        due.append(record)
    return due


def retry_due_scans(engine_factory: Callable[[], ScanEngine], limit: int = 25) -> list[Outcome]:
    """The retry path: rescan ERROR attachments (and uploads whose event never arrived)."""
    outcomes: list[Outcome] = []
    bucket = get_settings().uploads_bucket
    for record in due_retries(limit):
        try:
            outcomes.append(
                process_object(bucket, record.s3_key, record.version_id, engine_factory)
            )
        except ScanFailed:
            outcomes.append(
                Outcome("retry_failed", AttachmentStatus.ERROR.value, record.attachment_id)
            )
        if outcomes[-1].action == "gone":
            # Never uploaded (or deleted): leave PENDING_SCAN, stop retrying.
            record.update(
                actions=[AttachmentItem.retry_queue.remove(), AttachmentItem.retry_at.remove()]
            )
    return outcomes


# --- Rescans after a definitions update -----------------------------------------------------


def stale_clean(version: str, limit: int) -> list[AttachmentItem]:
    """CLEAN attachments passed within the rescan window by definitions other than `version`
    (the sparse clean index, one partition per day; scheduled function only)."""
    now = _now()
    cutoff = now - timedelta(hours=get_settings().definitions_rescan_window_hours)
    found: list[AttachmentItem] = []
    day = now
    while day.date() >= cutoff.date() and len(found) < limit:
        for key_only in AttachmentItem.clean_index.query(
            clean_day(day),
            AttachmentItem.clean_at >= cutoff.isoformat(),
            filter_condition=AttachmentItem.definitions_version != version,
        ):
            record = AttachmentItem.get(key_only.pk, key_only.sk, consistent_read=True)
            if record.status == AttachmentStatus.CLEAN.value:
                found.append(record)
            if len(found) >= limit:
                break
        day -= timedelta(days=1)
    return found


def rescan_stale_clean(engine_factory: Callable[[], ScanEngine], limit: int = 50) -> list[Outcome]:
    """Rescan CLEAN attachments judged by older definitions than the engine now serves; one
    found infected is quarantined exactly as on its first scan. Resumable: each rescanned record
    carries the new version, so the next sweep continues with the rest."""
    try:
        engine = engine_factory()
    except ScanEngineError as error:
        logger.error("rescan skipped: no engine", extra={"error": str(error)})
        return []
    version = engine.definitions_version
    if not version:
        return []
    outcomes: list[Outcome] = []
    for record in stale_clean(version, limit):
        token = set_context(RequestContext(organization_id=record.organization_id))
        try:
            outcomes.append(_rescan(record, engine, version))
        finally:
            reset_context(token)
    return outcomes


def _rescan(record: AttachmentItem, engine: ScanEngine, version: str) -> Outcome:
    settings = get_settings()
    aid = record.attachment_id
    bucket, key, version_id = settings.uploads_bucket, record.s3_key, record.version_id
    if storage.head(bucket, key, version_id) is None:
        return Outcome("gone", record.status, aid)
    at = _now()
    with tempfile.TemporaryDirectory(prefix="rescan-", dir=settings.scan_tmp_dir or None) as work:
        path = os.path.join(work, "object")
        try:
            storage.download(bucket, key, version_id, path, settings.attachment_max_bytes)
            result = engine.scan_file(path)
        except (ScanEngineError, ValueError) as error:
            # Still CLEAN with its old version: the next sweep tries again.
            logger.error("rescan failed", extra={"attachment_id": aid, "error": str(error)})
            return Outcome("rescan_failed", record.status, aid)
    if result.verdict is Verdict.CLEAN:
        confirmed = result.definitions_version or version
        try:
            record.update(
                actions=[AttachmentItem.definitions_version.set(confirmed)],
                condition=AttachmentItem.status == AttachmentStatus.CLEAN.value,
            )
        except UpdateError:
            return Outcome("stale", None, aid)
        publish_verdict(
            verdict_detail(
                organization_id=record.organization_id,
                ticket_id=record.ticket_id,
                attachment_id=aid,
                status=AttachmentStatus.CLEAN.value,
                signature=None,
                definitions_version=result.definitions_version,
                reason=None,
                scanned_at=at,
                rescan=True,
            )
        )
        return Outcome("rescanned", AttachmentStatus.CLEAN.value, aid)
    tags = _tags("INFECTED", result.signature, at)
    quarantine_key = storage.quarantine(key, version_id, "INFECTED", tags)
    _record_decision(
        record,
        AttachmentStatus.INFECTED,
        at=at,
        version_id=version_id,
        signature=result.signature,
        quarantine_key=quarantine_key,
        definitions_version=result.definitions_version,
        rescan=True,
    )
    emit(
        "security.malware_detected",
        attachment_id=aid,
        ticket_id=record.ticket_id,
        signature=result.signature,
        user_id=record.uploader_id,
        organization_id=record.organization_id,
        rescan=True,
    )
    return Outcome("rescanned", AttachmentStatus.INFECTED.value, aid, result.signature)
