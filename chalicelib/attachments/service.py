"""Attachment services: what a principal may do with a ticket's attachments.

A ticket that others were merged into also shows (lists, describes, serves) the merged tickets'
attachments; deleting one stays a change of the ticket it was uploaded to.

Every function starts from `get_visible_ticket`, so an attachment is reachable exactly when its
ticket is (another organization's, or another requester's, is NotFound). Records are read from
the caller's own organization partition: a foreign attachment id or S3 key cannot name anything.
The rules on the attachment itself (download, delete) are in `chalicelib.attachments.policy`.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.attachments import policy, storage
from chalicelib.attachments.filenames import (
    content_disposition,
    served_filename,
    validate_extension,
    validate_filename,
)
from chalicelib.attachments.models import (
    RETRY_QUEUE,
    AttachmentItem,
    AttachmentStatus,
    attachment_sk,
    ticket_prefix,
)
from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import Principal
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity import users
from chalicelib.tickets.models import Ticket, is_valid_id, new_id
from chalicelib.tickets.service import get_visible_ticket

MAX_ATTACHMENTS_PER_TICKET = 100
# A PENDING_SCAN attachment joins the retry queue for when its upload window has passed: if the
# ObjectCreated event was lost, the sweep scans the object anyway.
_LOST_EVENT_GRACE = timedelta(minutes=10)


@dataclasses.dataclass(frozen=True)
class Attachment:
    """An attachment as the API shows it."""

    id: str
    ticket_id: str
    organization_id: str
    uploader_id: str
    filename: str
    content_type: str
    size: int
    status: str
    sniffed_type: str | None
    signature: str | None
    reason: str | None
    created_at: str
    scanned_at: str | None
    uploader_name: str | None = None  # filled in for responses (`_with_uploader_names`)

    @classmethod
    def from_model(cls, item: AttachmentItem) -> Attachment:
        return cls(
            id=item.attachment_id,
            ticket_id=item.ticket_id,
            organization_id=item.organization_id,
            uploader_id=item.uploader_id,
            filename=item.filename,
            content_type=item.declared_type,
            size=int(item.size if item.size is not None else item.declared_size),
            status=item.status,
            sniffed_type=item.sniffed_type,
            signature=item.signature,
            reason=item.reason,
            created_at=item.created_at.isoformat(timespec="milliseconds"),
            scanned_at=item.scanned_at.isoformat(timespec="milliseconds")
            if item.scanned_at
            else None,
        )


@dataclasses.dataclass(frozen=True)
class UploadGrant:
    attachment: Attachment
    url: str
    fields: dict[str, str]
    expires_at: str


def _with_uploader_names(organization_id: str, found: list[Attachment]) -> list[Attachment]:
    """The attachments with `uploader_name`: one BatchGetItem for the page's distinct uploaders
    (`identity.users.display_names`), never a call per attachment."""
    names = users.display_names(organization_id, [item.uploader_id for item in found])
    return [dataclasses.replace(item, uploader_name=names.get(item.uploader_id)) for item in found]


def _field_error(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(details=[{"field": field, "message": message}])


def _get_record(organization_id: str, ticket_id: str, attachment_id: str) -> AttachmentItem:
    if not is_valid_id(attachment_id):
        raise NotFound()
    try:
        return AttachmentItem.get(
            org_pk(organization_id), attachment_sk(ticket_id, attachment_id), consistent_read=True
        )
    except DoesNotExist:
        raise NotFound() from None


def create_upload(
    principal: Principal, ticket_id: str, *, filename: str, content_type: str, size: int
) -> UploadGrant:
    """Record a PENDING_SCAN attachment and grant a presigned POST for exactly that object."""
    ticket = get_visible_ticket(principal, ticket_id)
    settings = get_settings()
    validate_filename(filename)
    if content_type not in settings.attachment_allowed_types:
        raise _field_error("contentType", "This content type is not allowed.")
    validate_extension(filename, content_type)
    if not 1 <= size <= settings.attachment_max_bytes:
        raise _field_error("size", f"Size must be 1..{settings.attachment_max_bytes} bytes.")
    org = principal.organization_id
    existing = AttachmentItem.count(
        org_pk(org), AttachmentItem.sk.startswith(ticket_prefix(ticket.id))
    )
    if existing >= MAX_ATTACHMENTS_PER_TICKET:
        raise Conflict(f"A ticket holds at most {MAX_ATTACHMENTS_PER_TICKET} attachments.")
    attachment_id = new_id()
    key = storage.object_key(org, ticket.id, attachment_id)
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=settings.attachment_upload_expiry_seconds)
    record = AttachmentItem(
        org_pk(org),
        attachment_sk(ticket.id, attachment_id),
        attachment_id=attachment_id,
        organization_id=org,
        ticket_id=ticket.id,
        uploader_id=principal.user_id,
        filename=filename,
        declared_type=content_type,
        declared_size=size,
        s3_key=key,
        status=AttachmentStatus.PENDING_SCAN.value,
        created_at=now,
        scan_attempts=0,
        retry_queue=RETRY_QUEUE,
        retry_at=(expires + _LOST_EVENT_GRACE).isoformat(),
    )

    def build(tx: TransactWrite) -> None:
        tx.save(record, condition=AttachmentItem.pk.does_not_exist())

    transact(
        AuditEntry(
            organization_id=org,
            actor_id=principal.user_id,
            action="attachment.upload_requested",
            target_type="attachment",
            target_id=attachment_id,
            after={
                "ticketId": ticket.id,
                "contentType": content_type,
                "size": size,
                "status": record.status,
            },
        ),
        build,
    )
    post = storage.presigned_post(key, content_type)
    return UploadGrant(
        attachment=Attachment.from_model(record),
        url=str(post["url"]),
        fields={str(k): str(v) for k, v in post["fields"].items()},
        expires_at=expires.isoformat(timespec="seconds"),
    )


def list_attachments(
    principal: Principal,
    ticket_id: str,
    *,
    limit: int = cursors.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[Attachment]:
    """A page of the ticket's attachments, oldest first (signed cursor bound to the organization,
    the caller and the ticket). A ticket that others were merged into lists its own attachments,
    then each merged ticket's, in merge order (`Attachment.ticket_id` names where each was
    uploaded): one Query per ticket the page reaches."""
    ticket = get_visible_ticket(principal, ticket_id)
    org = principal.organization_id
    binding = f"attachments|{principal.user_id}|{ticket.id}"
    start = cursors.decode(org, binding, cursor)
    ticket_ids = [ticket.id, *ticket.merged_from]
    index, key = 0, start
    if isinstance(start, dict) and _MERGED_POSITION in start:
        index, key = int(start[_MERGED_POSITION][0]), start[_MERGED_POSITION][1]
    items: list[Attachment] = []
    position: object = None
    while index < len(ticket_ids):
        query = AttachmentItem.query(
            org_pk(org),
            AttachmentItem.sk.startswith(ticket_prefix(ticket_ids[index])),
            limit=limit - len(items),
            last_evaluated_key=key,
            consistent_read=True,
        )
        items.extend(Attachment.from_model(item) for item in query)
        key = query.last_evaluated_key
        if key is None:
            index += 1
        if len(items) >= limit:
            break
    if index < len(ticket_ids):
        position = {_MERGED_POSITION: [index, key]} if ticket.merged_from else key
    next_cursor = cursors.encode(org, binding, position)
    return Page(_with_uploader_names(org, items), next_cursor)


_MERGED_POSITION = "merged"  # a merged ticket's cursor: [ticket index, that ticket's position]


def _linked_record(organization_id: str, ticket: Ticket, attachment_id: str) -> AttachmentItem:
    """The attachment on the ticket, or on one of the tickets merged into it (NotFound else)."""
    for owner in (ticket.id, *ticket.merged_from):
        try:
            return _get_record(organization_id, owner, attachment_id)
        except NotFound:
            continue
    raise NotFound()


def get_attachment(principal: Principal, ticket_id: str, attachment_id: str) -> Attachment:
    ticket = get_visible_ticket(principal, ticket_id)
    org = principal.organization_id
    found = Attachment.from_model(_linked_record(org, ticket, attachment_id))
    return _with_uploader_names(org, [found])[0]


def download_url(principal: Principal, ticket_id: str, attachment_id: str) -> str:
    """A short-lived presigned GET of the scanned version; Conflict unless CLEAN."""
    ticket = get_visible_ticket(principal, ticket_id)
    record = _linked_record(principal.organization_id, ticket, attachment_id)
    policy.check_download(record)
    return storage.presigned_get(
        record.s3_key,
        record.version_id,
        content_disposition(served_filename(record.filename, record.declared_type)),
        record.sniffed_type,
    )


def delete_attachment(principal: Principal, ticket_id: str, attachment_id: str) -> None:
    """Delete the record (audited) and every version of its object in the uploads bucket.

    Who may delete which attachment: `policy.check_delete` (staff, or the uploader).
    A quarantined copy is kept: the app role cannot delete from the quarantine bucket.
    """
    ticket = get_visible_ticket(principal, ticket_id)
    record = _get_record(principal.organization_id, ticket.id, attachment_id)
    policy.check_delete(principal, record)

    def build(tx: TransactWrite) -> None:
        tx.delete(record, condition=AttachmentItem.pk.exists())

    try:
        transact(
            AuditEntry(
                organization_id=principal.organization_id,
                actor_id=principal.user_id,
                action="attachment.deleted",
                target_type="attachment",
                target_id=record.attachment_id,
                before={"ticketId": ticket.id, "status": record.status},
            ),
            build,
        )
    except TransactWriteError:
        raise NotFound() from None
    bucket = get_settings().uploads_bucket
    removed = storage.delete_all_versions(bucket, record.s3_key)
    logger.info(
        "attachment deleted", extra={"attachment_id": record.attachment_id, "versions": removed}
    )
