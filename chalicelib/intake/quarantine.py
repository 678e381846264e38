"""The quarantine review: an organization's administrators list the messages a failed SES verdict
held back, release one into normal intake, or discard one.

A quarantined message is named by the SHA-256 of its Message-ID (the `message_hash` of its
`MSG#` claim, 64 hex digits). Every lookup reads the caller's own `ORG#<org>#MAIL` partition, so
another organization's message and a made-up id are the same 404.

Release and discard each move the claim out of `QUARANTINED` with a condition on that status, so
two administrators acting at once cannot ticket one message twice or ticket a discarded one:
the second one gets a 404. A message whose virus verdict failed is never released (409): it can
only be discarded. Both are audited (no address, no subject: the message's id, its verdict
reason, and what it became), and both emit a security event.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError

from chalicelib.attachments import storage
from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.settings import get_settings
from chalicelib.intake import parse, service
from chalicelib.intake.models import (
    MESSAGE_PREFIX,
    QUARANTINE_PREFIX,
    InboundMailModel,
    MailStatus,
    QuarantinedMailModel,
    mail_pk,
)
from chalicelib.intake.screening import VERDICTS
from chalicelib.security_events import events as security_events

_MAIL_ID = re.compile(r"^[0-9a-f]{64}$")
_BINDING = "mail-quarantine"
VIRUS_REFUSED = "This message failed the virus scan and cannot be released; discard it instead."
RAW_GONE = "The stored copy of this message is no longer available; discard it instead."
SENDER_UNUSABLE = (
    "The sender is deactivated or has no usable address, so the message cannot be ticketed."
)


@dataclasses.dataclass(frozen=True)
class HeldMessage:
    """A quarantined message as an administrator reviews it (never logged: it has the sender)."""

    id: str
    received_at: str
    sender: str
    subject: str
    verdicts: dict[str, str | None]
    size: int
    reason: str


@dataclasses.dataclass(frozen=True)
class Released:
    """What a released message became."""

    id: str
    status: str  # TICKETED or COMMENTED
    ticket_id: str
    comment_id: str | None


def verdicts_of_text(text: str | None) -> dict[str, str | None]:
    """`"spam=PASS virus=FAIL"` (as stored) -> every verdict by name, None when absent."""
    found: dict[str, str | None] = dict.fromkeys(VERDICTS)
    for pair in (text or "").split():
        name, _, value = pair.partition("=")
        if name in found and value:
            found[name] = value
    return found


def _held(item: QuarantinedMailModel) -> HeldMessage:
    return HeldMessage(
        id=item.message_hash,
        received_at=item.received_at,
        sender=item.sender,
        subject=item.subject,
        verdicts=verdicts_of_text(item.verdicts),
        size=int(item.size or 0),
        reason=item.reason,
    )


def list_quarantined(organization_id: str, *, limit: int, cursor: str | None) -> Page[HeldMessage]:
    """The organization's quarantined messages, newest first, a page at a time (one Query)."""
    results = QuarantinedMailModel.query(
        mail_pk(organization_id),
        QuarantinedMailModel.sk.startswith(QUARANTINE_PREFIX),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=cursors.decode(organization_id, _BINDING, cursor),
    )
    items = [_held(item) for item in results if isinstance(item, QuarantinedMailModel)]
    return Page(items, cursors.encode(organization_id, _BINDING, results.last_evaluated_key))


def _find(organization_id: str, mail_id: str) -> tuple[InboundMailModel, QuarantinedMailModel]:
    """The claim and the `Q#` item of a message quarantined in this organization, or 404."""
    if not _MAIL_ID.fullmatch(mail_id):
        raise NotFound()
    pk = mail_pk(organization_id)
    try:
        claim = InboundMailModel.get(pk, f"{MESSAGE_PREFIX}{mail_id}", consistent_read=True)
        held = QuarantinedMailModel.get(
            pk, f"{QUARANTINE_PREFIX}{claim.received_at}#{mail_id}", consistent_read=True
        )
    except DoesNotExist as error:
        raise NotFound() from error
    if claim.status != MailStatus.QUARANTINED:
        raise NotFound()
    return claim, held


def _raw_location(held: QuarantinedMailModel) -> tuple[str, str] | None:
    """Where the raw message is kept: only ever the inbound-mail bucket, under SES's `inbound/`
    or this organization's `quarantine/<org>/` (the IAM policy says the same; this keeps a
    stored key from naming anything else even where a policy is broader)."""
    key = held.raw_key or ""
    prefixes = ("inbound/", f"quarantine/{held.organization_id}/")
    if held.raw_bucket != get_settings().inbound_mail_bucket or not key.startswith(prefixes):
        return None
    if ".." in key.split("/"):
        return None
    return held.raw_bucket, key


def _read_raw(held: QuarantinedMailModel) -> bytes | None:
    location = _raw_location(held)
    if location is None or storage.head(*location, None) is None:
        return None
    body: bytes = storage.s3().get_object(Bucket=location[0], Key=location[1])["Body"].read()
    return body


def _set_status(claim: InboundMailModel, status: str, *, expected: str) -> bool:
    """Move the claim from `expected` to `status`; False if it was not in `expected`."""
    try:
        claim.update(
            actions=[InboundMailModel.status.set(status)],
            condition=InboundMailModel.status == expected,
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def release(organization_id: str, mail_id: str, *, actor_id: str) -> Released:
    """Ticket a quarantined message as if its verdicts had passed (audited); 404 if it is not
    in this organization's quarantine, 409 if its virus verdict failed or it cannot be read."""
    claim, held = _find(organization_id, mail_id)
    if verdicts_of_text(held.verdicts)["virus"] == "FAIL":
        raise Conflict(VIRUS_REFUSED)
    if not _set_status(claim, MailStatus.PROCESSING, expected=MailStatus.QUARANTINED):
        raise NotFound()  # released or discarded a moment ago
    try:
        raw = _read_raw(held)
        if raw is None:
            raise Conflict(RAW_GONE)
        outcome = service.deliver(organization_id, raw, parse.parse(raw, service.limits()))
        if outcome.ticket_id is None:
            raise Conflict(SENDER_UNUSABLE)
    except Exception:
        _set_status(claim, MailStatus.QUARANTINED, expected=MailStatus.PROCESSING)
        raise
    _close(
        organization_id,
        claim,
        held,
        actor_id=actor_id,
        action="mail.quarantine_released",
        status=MailStatus.RELEASED,
        after={
            "outcome": outcome.status,
            "ticketId": outcome.ticket_id,
            "commentId": outcome.comment_id,
        },
        expected=MailStatus.PROCESSING,
        ticket_id=outcome.ticket_id,
        comment_id=outcome.comment_id,
    )
    security_events.emit(
        "security.suspicious_activity",
        reason="mail_quarantine_released",
        kind=held.reason,
        organization_id=organization_id,
        ticket_id=outcome.ticket_id,
        target_type="inbound_mail",
        target_id=mail_id,
    )
    return Released(mail_id, outcome.status, outcome.ticket_id, outcome.comment_id)


def discard(organization_id: str, mail_id: str, *, actor_id: str) -> None:
    """Throw a quarantined message away (audited): its raw copy (every version) and its `Q#`
    item go; the claim stays, DISCARDED, so the same Message-ID is not ingested again."""
    claim, held = _find(organization_id, mail_id)
    _close(
        organization_id,
        claim,
        held,
        actor_id=actor_id,
        action="mail.quarantine_discarded",
        status=MailStatus.DISCARDED,
        after={},
        expected=MailStatus.QUARANTINED,
    )
    location = _raw_location(held)
    if location is not None:
        storage.delete_all_versions(*location)
    security_events.emit(
        "security.suspicious_activity",
        reason="mail_quarantine_discarded",
        kind=held.reason,
        organization_id=organization_id,
        target_type="inbound_mail",
        target_id=mail_id,
    )


def _close(
    organization_id: str,
    claim: InboundMailModel,
    held: QuarantinedMailModel,
    *,
    actor_id: str,
    action: str,
    status: str,
    after: dict[str, Any],
    expected: str,
    ticket_id: str | None = None,
    comment_id: str | None = None,
) -> None:
    """One transaction: the claim leaves `expected` for `status`, the `Q#` item goes, and the
    audit record is written. A claim no longer in `expected` is a 404."""
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action=action,
        target_type="inbound_mail",
        target_id=claim.message_hash,
        before={"status": MailStatus.QUARANTINED, "reason": held.reason},
        after={"status": status, **after},
    )
    actions = [InboundMailModel.status.set(status)]
    if ticket_id is not None:
        actions.append(InboundMailModel.ticket_id.set(ticket_id))
    if comment_id is not None:
        actions.append(InboundMailModel.comment_id.set(comment_id))

    def build(tx: Any) -> None:
        tx.update(claim, actions=actions, condition=InboundMailModel.status == expected)
        tx.delete(held)

    try:
        transact(entry, build)
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise NotFound() from error
        raise
