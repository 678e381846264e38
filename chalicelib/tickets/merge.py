"""Merging a ticket into another of the same organization (staff only).

The source is CLOSED for good and records `merged_into`; the target appends the source (and
whatever had been merged into the source before) to `merged_from`. Nothing is copied: the
target's comment and attachment listings read the merged tickets' items where they already are
(`service.list_comments`, `attachments.service`), so a merge costs one transaction whatever the
size of the conversations, and the source stays exactly as its requester knew it.

Visibility does not follow the merge: the source's requester keeps the source and its
conversation (and reads there, in a public system comment, that it was merged), but does not
gain the target when it belongs to another requester. The target's requester sees the merged
tickets' public replies and attachments on the target; internal notes stay staff-only.

The write is one DynamoDB transaction: both ticket items conditioned on the versions read (the
source on the caller's `If-Match`) and on their merge state, a system comment on each, a
`ticket.updated` webhook event for each and the audit record. Two merges racing on a ticket
cannot both commit.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.tickets import names, policy, repository, search, sla, writes
from chalicelib.tickets.markdown_render import render_markdown
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    MERGED_FROM_NOTE,
    MERGED_INTO_NOTE,
    CommentModel,
    Status,
    Ticket,
    TicketModel,
    is_valid_id,
    new_id,
    status_key,
    ticket_pk,
    updated_sort_key,
)
from chalicelib.tickets.service import group_limit, ticket_event_data
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel

# A target shows at most this many merged tickets: each one is one more Query per page of its
# comments and attachments.
MAX_MERGED_FROM = 10

STALE = "The ticket was changed by someone else; reload it and retry."


def _refusal(source: TicketModel, target: TicketModel, if_match: int) -> Conflict | None:
    """Why this merge cannot happen, or None."""
    if source.ticket_id == target.ticket_id:
        return Conflict("A ticket cannot be merged into itself.")
    if source.merged_into:
        return Conflict(f"This ticket was already merged into ticket {source.merged_into}.")
    if target.merged_into:
        return Conflict(
            f"The target ticket was itself merged into ticket {target.merged_into}; "
            "merge into that one instead."
        )
    if target.status == Status.CLOSED:
        return Conflict("The target ticket is closed; reopen it or merge into an open one.")
    if len(_merged_from(source, target)) > MAX_MERGED_FROM:
        return Conflict(f"A ticket can show at most {MAX_MERGED_FROM} merged tickets.")
    return None if int(source.version or 0) == if_match else Conflict(STALE)


def _merged_from(source: TicketModel, target: TicketModel) -> list[str]:
    """The target's `merged_from` after the merge: what it had, the source, then what had been
    merged into the source."""
    return [*(target.merged_from or []), source.ticket_id, *(source.merged_from or [])]


def _system_comment(  # noqa: PLR0917 (one call site per ticket)
    org: str, principal: Principal, ticket_id: str, body: str, now: str, kind: str
) -> CommentModel:
    comment_id = new_id()
    return CommentModel(
        ticket_pk(org, ticket_id),
        f"{COMMENT_PREFIX}{comment_id}",
        comment_id=comment_id,
        ticket_id=ticket_id,
        organization_id=org,
        author_id=principal.user_id,
        internal=False,
        body_markdown=body,
        body_html=render_markdown(body),
        created_at=now,
        system=kind,
    )


def _set_or_remove(item: TicketModel, attributes: tuple[Any, ...]) -> list[Any]:
    """Update actions that write these attributes as `item` now holds them."""
    actions = []
    for attribute in attributes:
        value = getattr(item, attribute.attr_name)
        actions.append(attribute.set(value) if value is not None else attribute.remove())
    return actions


def merge_ticket(principal: Principal, ticket_id: str, into_id: str, if_match: int) -> Ticket:
    """Merge `ticket_id` into `into_id` if `if_match` is still the source's version; returns
    the target as it now is. A target outside the caller's organization is NotFound, exactly as
    a ticket that does not exist."""
    policy.check_merge(principal)
    if not is_valid_id(ticket_id) or not is_valid_id(into_id):
        raise NotFound()
    org = principal.organization_id
    limit = group_limit(principal)
    source = policy.visible_or_not_found(principal, repository.get_ticket(org, ticket_id), limit)
    target = policy.visible_or_not_found(principal, repository.get_ticket(org, into_id), limit)
    refusal = _refusal(source, target, if_match)
    if refusal is not None:
        raise refusal
    now = writes.now()
    merged_from = _merged_from(source, target)
    before = {"status": source.status, "intoStatus": target.status}

    previous_status = source.status
    source.status = Status.CLOSED
    source.merged_into = target.ticket_id
    source.updated_at = now
    # Closing stops the source's resolution clock as a PATCH to CLOSED would.
    sla.apply_to_ticket(
        source,
        sla.load_settings(org),
        previous_status=previous_status,
        previous_priority=source.priority,
        now=now,
    )
    source.set_index_keys()
    target.merged_from = merged_from
    target.updated_at = now
    target.set_index_keys()

    source_note = _system_comment(
        org,
        principal,
        source.ticket_id,
        f"This ticket was merged into ticket {into_id}.",
        now,
        MERGED_INTO_NOTE,
    )
    target_note = _system_comment(
        org,
        principal,
        target.ticket_id,
        f"Ticket {ticket_id} was merged into this ticket.",
        now,
        MERGED_FROM_NOTE,
    )
    source_event = webhook_events.outbox_item(
        org,
        webhook_events.TICKET_UPDATED,
        ticket_event_data(
            source,
            committed_version=if_match + 1,
            changed=["mergedInto", "status"],
            changed_by=principal.user_id,
        ),
    )
    target_event = webhook_events.outbox_item(
        org,
        webhook_events.TICKET_UPDATED,
        ticket_event_data(
            target,
            committed_version=int(target.version or 0) + 1,
            changed=["mergedFrom"],
            changed_by=principal.user_id,
        ),
    )
    source_actions: list[Any] = [
        TicketModel.status.set(Status.CLOSED),
        TicketModel.gsi_status.set(status_key(org, Status.CLOSED)),
        TicketModel.merged_into.set(target.ticket_id),
        TicketModel.updated_at.set(now),
        TicketModel.upd_sk.set(updated_sort_key(now, source.ticket_id)),
        *_set_or_remove(
            source,
            (
                TicketModel.sla_paused_at,
                TicketModel.gsi_sla_due,
                TicketModel.sla_due_sk,
                TicketModel.due_sk,
            ),
        ),
    ]
    target_actions: list[Any] = [
        TicketModel.merged_from.set(merged_from),
        TicketModel.updated_at.set(now),
        TicketModel.upd_sk.set(updated_sort_key(now, target.ticket_id)),
    ]
    # Besides the versions read: neither ticket may have been merged meanwhile, and the target
    # may not have been closed (a concurrent merge or PATCH makes the transaction fail).
    source_condition = TicketModel.merged_into.does_not_exist()
    target_condition = TicketModel.merged_into.does_not_exist() & (
        TicketModel.status != Status.CLOSED
    )

    def build(tx: TransactWrite) -> None:
        tx.update(source, actions=source_actions, condition=source_condition)
        tx.update(target, actions=target_actions, condition=target_condition)
        tx.save(source_note, condition=CommentModel.pk.does_not_exist())
        tx.save(target_note, condition=CommentModel.pk.does_not_exist())
        tx.save(source_event, condition=EventModel.pk.does_not_exist())
        tx.save(target_event, condition=EventModel.pk.does_not_exist())

    entry = writes.entry(
        principal,
        "ticket.merge",
        "ticket",
        ticket_id,
        before=before,
        after={"status": Status.CLOSED, "mergedInto": into_id, "mergedFrom": merged_from},
    )
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        # Only the two ticket updates carry conditions that can fail (every put is a new item):
        # a ticket changed, was merged or closed between the read and the commit.
        if writes.failed_positions(error):
            raise Conflict(
                "One of the tickets was changed or merged meanwhile; reload them and retry."
            ) from None
        raise
    # After the commit, like every index write: the merged words now find the target too.
    search.reindex_ticket(org, into_id)
    return names.name_ticket(org, Ticket.from_model(target))
