"""Ingesting one inbound message: route, claim, screen, thread, then ticket or comment it.

A message to the `List-Unsubscribe` `mailto:` address (`unsubscribe@<MAIL_DOMAIN>`) only
turns off the notification kind its signed token names, like the one-click link; nothing else
is read from it. Otherwise the order of the checks is the security model:

1. The organization is the one owning the receiving address (`support@<org>.<MAIL_DOMAIN>` or a
   reply address under it); nothing in the message body or its headers can name another one. An
   address of no organization: the message is dropped and logged without the address.
2. The claim: a conditional put of `ORG#<org>#MAIL` / `MSG#<sha256(Message-ID)>`; a message
   seen before (a retry, a replay) stops here.
3. Automatic mail (auto-replies, bounces, lists, our own Message-IDs) is recorded, never ticketed.
4. A failed SES verdict (spam, virus, SPF, DKIM, DMARC) quarantines the message for review, and
   so does a message from a staff member's address without a DMARC pass (a From header is
   easy to forge; only an aligned DMARC pass makes it a staff reply).
5. Threading: a genuine reply address first (its keyed tag is checked under the receiving
   organization's domain, so a reply token of organization A sent to B's address matches
   nothing), then In-Reply-To/References naming a ticket of the same organization, else a new
   ticket. A reply from someone who is neither the ticket's requester nor staff never writes into
   that ticket: it opens a new ticket for its sender instead.
6. The sender is found in the organization, or created as a REQUESTER without a password.

The comment (or ticket body) is the reply without its quoted history, plus a note naming what
the limits dropped; files (and the original message, `original.eml`) are written to the uploads
bucket under the same keys and with the same records as an upload, so the scan-on-put pipeline
judges them before anyone can download them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any
from urllib.parse import unquote

from pynamodb.exceptions import PutError

from chalicelib.attachments import storage
from chalicelib.attachments.models import (
    RETRY_QUEUE,
    AttachmentItem,
    AttachmentStatus,
    attachment_sk,
)
from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import STAFF_ROLES, Principal, Role
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity import users
from chalicelib.intake import parse, screening
from chalicelib.intake.models import (
    MESSAGE_PREFIX,
    QUARANTINE_PREFIX,
    InboundMailModel,
    MailStatus,
    QuarantinedMailModel,
    mail_pk,
    message_hash,
)
from chalicelib.mail.addresses import (
    organization_of_address,
    ticket_of_message_id,
    ticket_of_reply_address,
)
from chalicelib.notifications import unsubscribe
from chalicelib.security_events import events as security_events
from chalicelib.tickets import repository
from chalicelib.tickets import service as tickets
from chalicelib.tickets.models import TicketModel, new_id
from chalicelib.tickets.schemas import BODY_MAX, SUBJECT_MAX, CreateComment, CreateTicket

ORIGINAL_NAME = "original.eml"
ORIGINAL_TYPE = "message/rfc822"
_NO_SUBJECT = "(no subject)"
_EMPTY_BODY = "(This message had no text.)"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What became of one message (no address, no content: safe to log and return)."""

    status: str  # a MailStatus, "DUPLICATE", "DROPPED", "TOO_LARGE" or "UNSUBSCRIBED"
    organization_id: str | None = None
    ticket_id: str | None = None
    comment_id: str | None = None
    reason: str | None = None
    attachments: int = 0
    dropped_parts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "organizationId": self.organization_id,
            "ticketId": self.ticket_id,
            "commentId": self.comment_id,
            "reason": self.reason,
            "attachments": self.attachments,
            "droppedParts": self.dropped_parts,
        }


def _now() -> datetime:
    return datetime.now(UTC)


def _log(outcome: Outcome) -> Outcome:
    logger.info("inbound mail", extra={"mail_outcome": outcome.as_dict()})
    return outcome


def limits() -> parse.Limits:
    settings = get_settings()
    return parse.Limits(
        max_parts=settings.mail_max_parts,
        max_attachment_bytes=settings.mail_max_attachment_bytes,
        max_attachments=settings.mail_max_attachments,
    )


def receiving_organization(
    recipients: list[str] | tuple[str, ...], headers: tuple[str, ...]
) -> str | None:
    """The organization of the first address of ours among the envelope recipients (SES's
    receipt), else among the To/Cc/Delivered-To headers."""
    for address in [*recipients, *headers]:
        organization = organization_of_address(address)
        if organization is not None:
            return organization
    return None


def _to_unsubscribe(recipients: list[str] | tuple[str, ...], headers: tuple[str, ...]) -> bool:
    """Whether the message goes to the `mailto:` address of `List-Unsubscribe` (SES's envelope
    recipients when given, else the To/Cc headers)."""
    wanted = unsubscribe.unsubscribe_mailbox()
    return any(parseaddr(a)[1].strip().lower() == wanted for a in (recipients or headers))


def _unsubscribe(subject: str, organization_id: str | None) -> Outcome:
    """RFC 2369 `mailto:` unsubscribe: the subject is `unsubscribe <token>`; the signed token
    alone decides (one user, organization and kind), exactly as the one-click link. A message
    without a genuine token changes nothing."""
    words = subject.split()
    token = unquote(words[-1]) if len(words) == 2 and words[0].lower() == "unsubscribe" else ""
    values = unsubscribe.read_token(token) if token else None
    if values is None or (organization_id is not None and values[0] != organization_id):
        return Outcome("DROPPED", reason="unsubscribe-token")
    try:
        org, _ = unsubscribe.apply(token)
    except NotFound:
        return Outcome("DROPPED", reason="unsubscribe-token")
    return Outcome("UNSUBSCRIBED", organization_id=org)


def ingest(
    raw: bytes,
    *,
    recipients: list[str] | tuple[str, ...] = (),
    receipt: Mapping[str, Any] | None = None,
    raw_bucket: str | None = None,
    raw_key: str | None = None,
    organization_id: str | None = None,
) -> Outcome:
    """Ingest one raw RFC 5322 message (see the module docstring for the rules).

    `recipients` are SES's envelope recipients; `receipt` SES's receipt (verdicts); the raw
    message's own location in S3 when it is stored there already. `organization_id` (the CLI)
    restricts ingestion to that organization: a message addressed elsewhere is dropped."""
    settings = get_settings()
    if len(raw) > settings.mail_max_message_bytes:
        return _log(Outcome("TOO_LARGE", reason="message-size"))
    mail = parse.parse(raw, limits())
    if _to_unsubscribe(recipients, mail.recipients):
        return _log(_unsubscribe(mail.subject, organization_id))
    org = receiving_organization(recipients, mail.recipients)
    if org is None or (organization_id is not None and org != organization_id):
        return _log(Outcome("DROPPED", reason="unknown-organization"))
    if not users.organization_exists(org):
        return _log(Outcome("DROPPED", reason="unknown-organization"))
    message_id = mail.message_id or f"<sha256.{hashlib.sha256(raw).hexdigest()}@local>"
    digest = message_hash(message_id)
    received = _now()
    claim = InboundMailModel(
        mail_pk(org),
        f"{MESSAGE_PREFIX}{digest}",
        organization_id=org,
        message_hash=digest,
        status=MailStatus.PROCESSING,
        received_at=received.isoformat(timespec="milliseconds"),
        size=len(raw),
        raw_bucket=raw_bucket,
        raw_key=raw_key,
    )
    try:
        claim.save(condition=InboundMailModel.pk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            return _log(Outcome("DUPLICATE", organization_id=org, reason="message-id"))
        raise
    try:
        outcome = _process(org, raw=raw, mail=mail, receipt=receipt, claim=claim)
    except Exception:
        claim.delete()  # let the retry (SES, Lambda) ingest it again
        raise
    return _log(outcome)


def _finish(claim: InboundMailModel, outcome: Outcome, verdicts: screening.Verdicts) -> Outcome:
    claim.status = outcome.status
    claim.reason = outcome.reason
    claim.ticket_id = outcome.ticket_id
    claim.comment_id = outcome.comment_id
    claim.verdicts = _verdict_text(verdicts) or None
    claim.save()
    return outcome


def _verdict_text(verdicts: screening.Verdicts) -> str:
    return " ".join(f"{name}={value}" for name, value in verdicts.as_dict().items())


def _process(
    org: str,
    *,
    raw: bytes,
    mail: parse.ParsedMail,
    receipt: Mapping[str, Any] | None,
    claim: InboundMailModel,
) -> Outcome:
    verdicts = screening.verdicts_of(mail.message, receipt)
    automatic = screening.automatic_reason(mail.message, mail.sender, mail.message_id)
    if automatic is not None:
        return _finish(claim, Outcome(MailStatus.IGNORED, org, reason=automatic), verdicts)
    failed = verdicts.failed()
    if not failed and _claims_staff(org, mail) and not verdicts.sender_authenticated():
        # A From address of staff is only believed with an aligned DMARC pass: anyone can
        # write it. Held for an administrator instead of becoming a staff reply.
        failed = ["staff-unauthenticated"]
    if failed:
        security_events.emit(
            "security.suspicious_activity",
            reason="mail_quarantined",
            kind=",".join(failed),
            organization_id=org,
            email=mail.sender,
        )
        _quarantine(org, raw, mail, claim, reason=",".join(failed), verdicts=verdicts)
        return _finish(
            claim, Outcome(MailStatus.QUARANTINED, org, reason=",".join(failed)), verdicts
        )
    return _finish(claim, deliver(org, raw, mail), verdicts)


def _claims_staff(org: str, mail: parse.ParsedMail) -> bool:
    """Whether the From address is an agent's or admin's of the organization (read only)."""
    address = mail.sender
    if not address or "@" not in address or len(address) > 254:
        return False
    user = users.find_by_email(org, address)
    return user is not None and user.role in STAFF_ROLES


def deliver(org: str, raw: bytes, mail: parse.ParsedMail) -> Outcome:
    """Thread and write a screened message: a comment on its ticket, or a new ticket."""
    sender = _sender(org, mail)
    if sender is None:
        return Outcome(MailStatus.IGNORED, org, reason="sender")
    principal = Principal(user_id=sender.id, organization_id=org, role=sender.role)
    ticket = _thread(org, mail)
    note = _dropped_note(mail.dropped)
    reason = "new"
    if ticket is not None and _may_reply(principal, ticket):
        body = _body(parse.trim_reply(mail.text), note)
        try:
            comment = tickets.add_comment(principal, ticket.ticket_id, CreateComment(body=body))
        except (Conflict, NotFound):
            comment = None  # a requester's reply to a CLOSED ticket: a new ticket below
        if comment is not None:
            count = _attach(principal, ticket.ticket_id, raw, mail.files)
            return Outcome(
                MailStatus.COMMENTED,
                org,
                ticket_id=ticket.ticket_id,
                comment_id=comment.id,
                reason="reply",
                attachments=count,
                dropped_parts=len(mail.dropped),
            )
        reason = "closed"
    elif ticket is not None:
        reason = "not-a-participant"
        security_events.emit(
            "security.suspicious_activity",
            reason="mail_reply_not_participant",
            organization_id=org,
            ticket_id=ticket.ticket_id,
            email=mail.sender,
        )
    subject = (mail.subject or _NO_SUBJECT)[:SUBJECT_MAX]
    created = tickets.create_ticket(
        principal,
        CreateTicket(subject=subject, body=_body(mail.text, note)),
    )
    count = _attach(principal, created.id, raw, mail.files)
    return Outcome(
        MailStatus.TICKETED,
        org,
        ticket_id=created.id,
        reason=reason,
        attachments=count,
        dropped_parts=len(mail.dropped),
    )


def _sender(org: str, mail: parse.ParsedMail) -> users.User | None:
    """The sender as a user of the organization, created as a requester when unknown; None for
    a deactivated user or an unusable address."""
    address = mail.sender
    if not address or "@" not in address or len(address) > 254:
        return None
    user = users.find_by_email(org, address)
    if user is None:
        name = (mail.sender_name or address.split("@", 1)[0])[:100] or "Customer"
        try:
            user = users.create_user(
                org, email=address, name=name, role=Role.REQUESTER, password=None
            )
        except Conflict:
            user = users.find_by_email(org, address)
        except Exception:
            return None
    if user is None or not user.active:
        return None
    return user


def _thread(org: str, mail: parse.ParsedMail) -> TicketModel | None:
    """The ticket this message replies to, within `org` only: the signed reply address first,
    then the Message-IDs of In-Reply-To and References."""
    candidates: list[tuple[str, str]] = []
    for address in mail.recipients:
        found = ticket_of_reply_address(address)
        if found is not None:
            candidates.append(found)
    for reference in mail.references:
        found = ticket_of_message_id(reference)
        if found is not None:
            candidates.append(found)
    for organization, ticket_id in candidates:
        if organization != org:
            continue
        item = repository.get_ticket(org, ticket_id)
        if item is not None:
            return item
    return None


def _may_reply(principal: Principal, ticket: TicketModel) -> bool:
    """Only the ticket's requester and the organization's staff write into it by mail."""
    return principal.role in STAFF_ROLES or principal.user_id == ticket.requester_id


def _body(text: str, note: str) -> str:
    text = text.strip() or _EMPTY_BODY
    if note:
        text = f"{text}\n\n{note}"
    if len(text) > BODY_MAX:
        text = text[: BODY_MAX - 40].rstrip() + "\n\n(The message was shortened.)"
    return text


def _dropped_note(dropped: tuple[str, ...]) -> str:
    if not dropped:
        return ""
    lines = "\n".join(f"- {item}" for item in dropped)
    return f"Not attached (over the mail limits):\n{lines}"


def _attach(
    principal: Principal, ticket_id: str, raw: bytes, files: tuple[parse.MailFile, ...]
) -> int:
    """Write the files and the original message as PENDING_SCAN attachments of the ticket: the
    record first, then the object, under the generated key the scanner expects. A staff
    member's mail keeps no `original.eml`: its quoted history and headers (colleagues, Cc)
    would reach the requester, who sees the ticket's attachments."""
    items = list(files)
    if principal.role not in STAFF_ROLES:
        items.append(parse.MailFile(ORIGINAL_NAME, ORIGINAL_TYPE, raw, inline=False))
    for file in items:
        _put_attachment(principal, ticket_id, file)
    return len(items)


def _put_attachment(principal: Principal, ticket_id: str, file: parse.MailFile) -> None:
    settings = get_settings()
    org = principal.organization_id
    attachment_id = new_id()
    key = storage.object_key(org, ticket_id, attachment_id)
    now = _now()
    record = AttachmentItem(
        org_pk(org),
        attachment_sk(ticket_id, attachment_id),
        attachment_id=attachment_id,
        organization_id=org,
        ticket_id=ticket_id,
        uploader_id=principal.user_id,
        filename=file.filename,
        declared_type=file.content_type,
        declared_size=len(file.content),
        s3_key=key,
        status=AttachmentStatus.PENDING_SCAN.value,
        created_at=now,
        scan_attempts=0,
        retry_queue=RETRY_QUEUE,
        retry_at=now.isoformat(),
    )

    def build(tx: Any) -> None:
        tx.save(record, condition=AttachmentItem.pk.does_not_exist())

    transact(
        AuditEntry(
            organization_id=org,
            actor_id=principal.user_id,
            action="attachment.mail_received",
            target_type="attachment",
            target_id=attachment_id,
            after={
                "ticketId": ticket_id,
                "contentType": file.content_type,
                "size": len(file.content),
                "status": record.status,
            },
        ),
        build,
    )
    storage.s3().put_object(
        Bucket=settings.uploads_bucket,
        Key=key,
        Body=file.content,
        ContentType=file.content_type,
        ServerSideEncryption=settings.attachment_upload_sse,
    )


def _quarantine(
    org: str,
    raw: bytes,
    mail: parse.ParsedMail,
    claim: InboundMailModel,
    *,
    reason: str,
    verdicts: screening.Verdicts,
) -> None:
    """Keep the message for an administrator: the raw message stays in (or is put into) the
    inbound bucket, and a `Q#` item lists it."""
    settings = get_settings()
    bucket, key = claim.raw_bucket, claim.raw_key
    if not bucket or not key:
        bucket, key = settings.inbound_mail_bucket, f"quarantine/{org}/{claim.message_hash}.eml"
        storage.s3().put_object(
            Bucket=bucket, Key=key, Body=raw, ServerSideEncryption=settings.attachment_upload_sse
        )
        claim.raw_bucket, claim.raw_key = bucket, key
    QuarantinedMailModel(
        mail_pk(org),
        f"{QUARANTINE_PREFIX}{claim.received_at}#{claim.message_hash}",
        organization_id=org,
        message_hash=claim.message_hash,
        received_at=claim.received_at,
        reason=reason,
        verdicts=_verdict_text(verdicts) or None,
        sender=mail.sender[:254],
        subject=(mail.subject or _NO_SUBJECT)[:SUBJECT_MAX],
        size=len(raw),
        raw_bucket=bucket,
        raw_key=key,
    ).save()
