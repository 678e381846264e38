"""The notifications queue's consumer: each message is one notice, checked again and sent.

Before a send, everything is read again in the notice's organization (every key is built from
it, so a user, ticket or comment of another organization cannot be addressed): the recipient
must exist and be active and want this kind; a requester is only told about their own ticket
and staff only as staff, an agent limited to their groups only about a ticket they may see; an
internal note is never mailed. A notice that no longer applies is dropped (acknowledged). A
failed send is reported as a batch item failure, so SQS makes it visible again, and after
`maxReceiveCount` receives moves it to the dead-letter queue. A notice is sent at most once
per event, recipient and kind (a Powertools idempotency record, kept for
`IDEMPOTENCY_TTL_SECONDS`): SQS and the stream both deliver at least once.

Logs name the kind and the ids, never an address, a subject or a body.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.authz.principal import STAFF_ROLES, Role
from chalicelib.core.observability import count_metric, logger
from chalicelib.core.settings import get_settings
from chalicelib.identity import notification_preferences as prefs
from chalicelib.identity import org_settings
from chalicelib.identity.notification_preferences import Recipient
from chalicelib.mail import send
from chalicelib.notifications.recipients import Notice
from chalicelib.notifications.render import render
from chalicelib.tickets import groups, policy, repository
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    CommentModel,
    TicketModel,
    is_valid_id,
    ticket_pk,
)

# Kinds a requester may receive (about their own ticket); the rest are for staff.
_REQUESTER_KINDS = frozenset({prefs.PUBLIC_REPLY})


def _refusal(notice: Notice, recipient: Recipient | None, ticket: TicketModel | None) -> str:
    """Why the notice no longer applies ("" when it does)."""
    if recipient is None or not recipient.active:
        return "no_recipient"
    if recipient.organization_id != notice.organization_id:
        return "not_visible"
    if not recipient.preferences.get(notice.kind, True):
        return "preference_off"
    if ticket is None:
        return "no_ticket"
    if notice.kind in _REQUESTER_KINDS:
        return "" if ticket.requester_id == recipient.user_id else "not_visible"
    staff_may_read = recipient.role in STAFF_ROLES and _staff_sees(recipient, ticket)
    return "" if staff_may_read else "not_visible"


def _staff_sees(recipient: Recipient, ticket: TicketModel) -> bool:
    """Whether the agent or admin may read the ticket now: an agent of an organization that
    limits agents to their groups is mailed only about tickets that limit allows."""
    org = recipient.organization_id
    if (
        recipient.role is not Role.AGENT
        or org_settings.agent_ticket_visibility(org) != org_settings.GROUPS
    ):
        return True
    limit = policy.GroupLimit(
        recipient.user_id, frozenset(groups.groups_of(org, recipient.user_id))
    )
    return limit.allows(ticket.group_id, ticket.assignee_id)


def _public_comment(notice: Notice) -> CommentModel | None:
    try:
        comment = CommentModel.get(
            ticket_pk(notice.organization_id, notice.ticket_id),
            f"{COMMENT_PREFIX}{notice.comment_id}",
        )
    except DoesNotExist:
        return None
    return comment if comment.internal is False else None


def deliver(notice: Notice, *, lambda_context: Any = None) -> str:
    """Send one notice if it still applies: "sent" or why it was dropped. Raises if the send
    fails (the message is retried)."""
    org = notice.organization_id
    if notice.kind not in prefs.KINDS or not is_valid_id(notice.ticket_id):
        return "invalid"
    recipient = prefs.recipient(org, notice.user_id)
    ticket = repository.get_ticket(org, notice.ticket_id) if recipient is not None else None
    refusal = _refusal(notice, recipient, ticket)
    if refusal or recipient is None or ticket is None:
        return refusal or "no_recipient"
    comment = None
    if notice.comment_id is not None:
        comment = _public_comment(notice)
        if comment is None:
            return "no_public_comment"  # gone, or an internal note: never mailed
    message = render(notice.kind, recipient, ticket, comment)
    sent: list[bool] = []

    def send_now() -> dict[str, Any]:
        send(message)
        sent.append(True)
        return {"sent": True}

    # Powertools idempotency loads on the first send, not with the app (cold start).
    from chalicelib.tickets import idempotency

    # Once per event, recipient and kind: a redelivered message or a re-routed stream batch
    # finds the record and sends nothing. A failed send stores nothing, so its retry sends.
    scope = {
        "organizationId": org,
        "userId": notice.user_id,
        "operation": f"notification:{notice.kind}",
        "key": f"{notice.event_id}:{notice.comment_id or ''}",
    }
    idempotency.once(scope, {}, send_now, lambda_context=lambda_context)
    return "sent" if sent else "duplicate"


def process_queue_event(event: dict[str, Any], *, lambda_context: Any = None) -> dict[str, Any]:
    """An SQS batch -> each notice delivered; the failed ones returned as
    `batchItemFailures` (the event source mapping reports partial batch failures)."""
    failures: list[dict[str, str]] = []
    outcomes: dict[str, int] = {}
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            notice = Notice.from_json(str(record.get("body", "")))
        except (ValueError, KeyError, TypeError):
            outcomes["unreadable"] = outcomes.get("unreadable", 0) + 1
            continue  # never sendable: retrying it only fills the dead-letter queue
        try:
            outcome = deliver(notice, lambda_context=lambda_context)
        except Exception as error:
            # The error's type only: an SES message can quote the recipient's address.
            logger.error(
                "notification not sent",
                extra={
                    "notification_kind": notice.kind,
                    "event_id": notice.event_id,
                    "error_type": type(error).__name__,
                },
            )
            failures.append({"itemIdentifier": message_id})
            outcome = "failed"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        count_metric("NotificationOutcome", {"stage": get_settings().stage, "outcome": outcome})
    logger.info("notifications processed", extra={"outcomes": outcomes})
    return {"batchItemFailures": failures}
