"""Ticket services: what a principal may see and do with tickets and comments.

Services take a `Principal` and plain (validated) data and return frozen dataclasses; they never
see HTTP. Visibility rule (one place, `can_see`): staff see every ticket of their organization,
requesters only the tickets they requested; anything else is `NotFound`, so existence never leaks.
Internal notes never leave this module for a requester.

Every change goes through `audit.transact`, so the change and its audit record are one
DynamoDB transaction. Reads are shaped so each request costs at most two round trips: one read
of the ticket(s), one TransactWriteItems (the audit record touches no shared item).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import STAFF_ROLES, Principal
from chalicelib.core import cursors
from chalicelib.core.cursors import parse_limit
from chalicelib.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import USER_PREFIX, UserModel
from chalicelib.tickets import repository
from chalicelib.tickets.markdown_render import render_markdown
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    Comment,
    CommentModel,
    Status,
    TagModel,
    Ticket,
    TicketModel,
    is_valid_id,
    new_id,
    ticket_pk,
)
from chalicelib.tickets.schemas import (
    TAGS_MAX,
    BulkAddTag,
    BulkAssign,
    BulkRemoveTag,
    BulkSetPriority,
    BulkSetStatus,
    CreateComment,
    CreateTicket,
    ListCommentsQuery,
    ListTicketsQuery,
    UpdateTicket,
)

# DynamoDB allows 100 items per transaction; the audit record takes one of them.
MAX_TRANSACTION_ITEMS = 100
AUDIT_ITEMS = 1

# The status workflow: OPEN -> PENDING -> RESOLVED -> CLOSED. Staff may move forward (skipping
# steps), put a PENDING ticket back to OPEN, and reopen RESOLVED or CLOSED tickets. Requesters
# may only close their own ticket.
STAFF_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.PENDING, Status.RESOLVED, Status.CLOSED}),
    Status.PENDING: frozenset({Status.OPEN, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.OPEN, Status.CLOSED}),
    Status.CLOSED: frozenset({Status.OPEN}),
}
REQUESTER_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.OPEN: frozenset({Status.CLOSED}),
    Status.PENDING: frozenset({Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
}
REQUESTER_EDITABLE_FIELDS = frozenset({"subject", "status"})


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def can_see(principal: Principal, item: TicketModel | Ticket) -> bool:
    """Staff see their organization's tickets; requesters only their own."""
    if item.organization_id != principal.organization_id:
        return False
    return principal.is_staff or item.requester_id == principal.user_id


def may_transition(principal: Principal, current: str, target: str) -> bool:
    """Whether the workflow lets this principal move a ticket from `current` to `target`."""
    if current == target:
        return True
    table = STAFF_TRANSITIONS if principal.is_staff else REQUESTER_TRANSITIONS
    return target in table.get(current, frozenset())


def get_visible_ticket(principal: Principal, ticket_id: str) -> Ticket:
    """The ticket if the principal may see it; NotFound when the id is malformed, missing, in
    another organization, or a requester's view of someone else's ticket."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    item = repository.get_ticket(principal.organization_id, ticket_id)
    if item is None or not can_see(principal, item):
        raise NotFound()
    return Ticket.from_model(item)


def _entry(
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> audit.AuditEntry:
    return audit.AuditEntry(
        organization_id=principal.organization_id,
        actor_id=principal.user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


def _failed_positions(error: TransactWriteError) -> set[int]:
    """Indexes of the transaction items whose condition failed."""
    return {
        position
        for position, reason in enumerate(error.cancellation_reasons or [])
        if reason is not None and reason.code == "ConditionalCheckFailed"
    }


def _assignee_check(tx: TransactWrite, organization_id: str, user_id: str) -> None:
    """Condition: the assignee is an active AGENT or ADMIN of this organization, at commit time
    (a demotion or deactivation racing the assignment makes the transaction fail)."""
    tx.condition_check(
        UserModel,
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        condition=UserModel.role.is_in(*sorted(role.value for role in STAFF_ROLES))
        & (UserModel.active == True),  # noqa: E712 (a DynamoDB condition, not a comparison)
    )


def _invalid_assignee() -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": "assigneeId", "message": "must be an active agent or admin of this org"}]
    )


# --- Tickets ---------------------------------------------------------------------------------


def create_ticket(principal: Principal, data: CreateTicket) -> Ticket:
    """Open a ticket requested by the caller (one transaction)."""
    org = principal.organization_id
    item = TicketModel.new(
        org,
        requester_id=principal.user_id,
        subject=data.subject,
        body_markdown=data.body,
        body_html=render_markdown(data.body),
        priority=data.priority,
        tags=list(data.tags),
        now=_now(),
    )
    tag_items = [TagModel.for_ticket(org, item.ticket_id, tag) for tag in data.tags]

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=TicketModel.pk.does_not_exist())
        for tag_item in tag_items:
            tx.save(tag_item)

    summary = {"status": item.status, "priority": item.priority, "tags": list(data.tags)}
    entry = _entry(principal, "ticket.create", "ticket", item.ticket_id, after=summary)
    audit.transact(entry, build)
    return Ticket.from_model(item)


@dataclasses.dataclass(frozen=True)
class TicketPage:
    items: list[Ticket]
    next_cursor: str | None


def list_tickets(principal: Principal, query: ListTicketsQuery) -> TicketPage:
    """One page of the tickets the principal may see, newest first, filtered."""
    org = principal.organization_id
    limit = parse_limit(query.limit)
    requester_id = query.requesterId
    if not principal.is_staff:
        if requester_id not in (None, principal.user_id):
            return TicketPage([], None)  # another requester's tickets: nothing, never an error
        requester_id = principal.user_id
    filters = {
        "status": query.status,
        "priority": query.priority,
        "assigneeId": query.assigneeId,
        "requesterId": requester_id,
        "tag": query.tag,
    }
    binding = "tickets|" + principal.user_id + "|" + audit.canonical_json(filters)
    start = cursors.decode(org, binding, query.cursor)

    if query.tag is not None:
        page = repository.query_tag(org, query.tag, limit, start)
        items = repository.batch_get_by_ids(org, [str(tag.list_sk) for tag in page.items])
        items = [
            item
            for item in items
            if (query.status is None or item.status == query.status)
            and (query.priority is None or item.priority == query.priority)
            and (query.assigneeId is None or item.assignee_id == query.assigneeId)
            and (requester_id is None or item.requester_id == requester_id)
        ]
    else:
        plan = repository.plan_ticket_query(
            org,
            status=query.status,
            priority=query.priority,
            assignee_id=query.assigneeId,
            requester_id=requester_id,
        )
        page = repository.query_tickets(plan, limit, start)
        items = [item for item in page.items if isinstance(item, TicketModel)]
    tickets = [Ticket.from_model(item) for item in items if can_see(principal, item)]
    next_cursor = cursors.encode(org, binding, page.last_key)
    return TicketPage(tickets, next_cursor)


def _changes(item: TicketModel, data: UpdateTicket) -> dict[str, Any]:
    """The fields of the patch whose value differs from the ticket's."""
    fields = data.model_fields_set
    current = {
        "subject": item.subject,
        "status": item.status,
        "priority": item.priority,
        "assigneeId": item.assignee_id,
        "tags": list(item.tags or []),
    }
    return {
        name: getattr(data, name)
        for name in ("subject", "status", "priority", "assigneeId", "tags")
        if name in fields and getattr(data, name) != current[name]
    }


def _audit_summary(item: TicketModel, changes: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Before/after summaries (the subject is user text: recorded as changed, not copied)."""
    names = {"status": "status", "priority": "priority", "assigneeId": "assignee_id"}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for field, value in changes.items():
        if field == "subject":
            before["subjectChanged"] = after["subjectChanged"] = True
        elif field == "tags":
            before["tags"], after["tags"] = list(item.tags or []), list(value)
        else:
            before[field], after[field] = getattr(item, names[field]), value
    return before, after


def _action_for(changes: dict[str, Any]) -> str:
    if "status" in changes:
        return "ticket.status_change"
    if "assigneeId" in changes:
        return "ticket.assign"
    return "ticket.update"


def _check_patch_shape(data: UpdateTicket) -> None:
    fields = data.model_fields_set
    if not fields:
        raise ValidationFailed("Nothing to change: send at least one field.")
    for name in ("subject", "status", "priority", "tags"):
        if name in fields and getattr(data, name) is None:
            raise ValidationFailed(details=[{"field": name, "message": "must not be null"}])


def _allowed_changes(
    principal: Principal, item: TicketModel, data: UpdateTicket, if_match: int
) -> dict[str, Any]:
    """The effective changes, once role, version and workflow allow them."""
    if not principal.is_staff and not data.model_fields_set <= REQUESTER_EDITABLE_FIELDS:
        raise Forbidden("Requesters may only change the subject or close their ticket.")
    if int(item.version or 0) != if_match:
        raise Conflict("The ticket was changed by someone else; reload it and retry.")
    changes = _changes(item, data)
    if "status" in changes and not may_transition(principal, item.status, changes["status"]):
        raise Forbidden(f"The status cannot change from {item.status} to {changes['status']}.")
    return changes


def update_ticket(
    principal: Principal, ticket_id: str, data: UpdateTicket, if_match: int
) -> Ticket:
    """Apply a patch if `if_match` is still the ticket's version (else 409)."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    _check_patch_shape(data)
    org = principal.organization_id
    item = repository.get_ticket(org, ticket_id)
    if item is None or not can_see(principal, item):
        raise NotFound()
    changes = _allowed_changes(principal, item, data, if_match)
    if not changes:
        return Ticket.from_model(item)

    before, after = _audit_summary(item, changes)
    old_tags = list(item.tags or [])
    new_tags: list[str] = list(changes.get("tags", old_tags))
    removed = [tag for tag in old_tags if tag not in new_tags]
    added = [tag for tag in new_tags if tag not in old_tags]
    item.subject = changes.get("subject", item.subject)
    item.status = changes.get("status", item.status)
    item.priority = changes.get("priority", item.priority)
    if "assigneeId" in changes:
        item.assignee_id = changes["assigneeId"]
    item.tags = new_tags
    item.updated_at = _now()
    item.set_index_keys()
    assign_to = changes.get("assigneeId")

    def build(tx: TransactWrite) -> None:
        if assign_to is not None:
            _assignee_check(tx, org, assign_to)
        for tag in removed:
            tx.delete(TagModel.for_ticket(org, ticket_id, tag))
        tx.save(item)  # conditioned on the version read (pynamodb VersionAttribute)
        for tag in added:
            tx.save(TagModel.for_ticket(org, ticket_id, tag))

    ticket_position = (1 if assign_to is not None else 0) + len(removed)
    entry = _entry(principal, _action_for(changes), "ticket", ticket_id, before=before, after=after)
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        failed = _failed_positions(error)
        if assign_to is not None and 0 in failed:
            raise _invalid_assignee() from None
        if ticket_position in failed:
            raise Conflict("The ticket was changed by someone else; reload it and retry.") from None
        raise
    return Ticket.from_model(item)


# --- Bulk ------------------------------------------------------------------------------------

BulkRequestData = BulkSetStatus | BulkSetPriority | BulkAssign | BulkAddTag | BulkRemoveTag


@dataclasses.dataclass
class _BulkChange:
    ticket_id: str
    item: TicketModel
    before: Any
    tag_put: str | None = None
    tag_delete: str | None = None


def _bulk_plan(  # noqa: PLR0911 (one early return per action's no-op)
    principal: Principal, request: BulkRequestData, item: TicketModel
) -> tuple[str, _BulkChange | None]:
    """The per-id outcome before writing: ("ok", change or None for a no-op) or an error code."""
    change = _BulkChange(item.ticket_id, item, None)
    if isinstance(request, BulkSetStatus):
        if not may_transition(principal, item.status, request.status):
            return "FORBIDDEN", None
        if item.status == request.status:
            return "ok", None
        change.before, item.status = item.status, request.status
    elif isinstance(request, BulkSetPriority):
        if item.priority == request.priority:
            return "ok", None
        change.before, item.priority = item.priority, request.priority
    elif isinstance(request, BulkAssign):
        if item.assignee_id == request.assigneeId:
            return "ok", None
        change.before, item.assignee_id = item.assignee_id, request.assigneeId
    elif isinstance(request, BulkAddTag):
        tags = list(item.tags or [])
        if request.tag in tags:
            return "ok", None
        if len(tags) >= TAGS_MAX:
            return "CONFLICT", None
        change.before, item.tags, change.tag_put = tags, [*tags, request.tag], request.tag
    else:
        tags = list(item.tags or [])
        if request.tag not in tags:
            return "ok", None
        change.before = tags
        item.tags = [tag for tag in tags if tag != request.tag]
        change.tag_delete = request.tag
    item.updated_at = _now()
    item.set_index_keys()
    return "ok", change


def _bulk_value(request: BulkRequestData) -> Any:
    if isinstance(request, BulkSetStatus):
        return request.status
    if isinstance(request, BulkSetPriority):
        return request.priority
    if isinstance(request, BulkAssign):
        return request.assigneeId
    return request.tag


def _chunks(changes: Sequence[_BulkChange], capacity: int) -> list[list[_BulkChange]]:
    chunks: list[list[_BulkChange]] = [[]]
    used = 0
    for change in changes:
        size = 1 + (1 if change.tag_put or change.tag_delete else 0)
        if used + size > capacity:
            chunks.append([])
            used = 0
        chunks[-1].append(change)
        used += size
    return [chunk for chunk in chunks if chunk]


def bulk_update(principal: Principal, request: BulkRequestData) -> list[dict[str, str]]:
    """Apply one action to up to 100 tickets; per-id results in request order.

    Reads: one BatchGetItem (the tickets). Writes: one TransactWriteItems per chunk of
    changes that fits a transaction (with its own audit record); a ticket whose version moved
    meanwhile is reported CONFLICT and the rest of its chunk is retried without it.
    """
    if not principal.is_staff:
        raise Forbidden()
    org = principal.organization_id
    found = repository.batch_get_tickets(org, request.ids)
    results: dict[str, str] = {}
    changes: list[_BulkChange] = []
    for ticket_id in request.ids:
        item = found.get(ticket_id)
        if item is None or not can_see(principal, item):
            results[ticket_id] = "NOT_FOUND"
            continue
        outcome, change = _bulk_plan(principal, request, item)
        results[ticket_id] = outcome
        if change is not None:
            changes.append(change)

    assign_to = request.assigneeId if isinstance(request, BulkAssign) else None
    checks = 1 if assign_to is not None else 0
    value = _bulk_value(request)
    committed_any = False
    for chunk in _chunks(changes, MAX_TRANSACTION_ITEMS - AUDIT_ITEMS - checks):
        pending = list(chunk)
        while pending:
            try:
                audit.transact(
                    _entry(
                        principal,
                        f"ticket.bulk.{request.action}",
                        "ticket",
                        pending[0].ticket_id if len(pending) == 1 else "bulk",
                        before={change.ticket_id: change.before for change in pending},
                        after={"value": value, "ids": [change.ticket_id for change in pending]},
                    ),
                    _bulk_builder(org, pending, assign_to),
                )
            except TransactWriteError as error:
                failed = _failed_positions(error)
                if checks and 0 in failed:
                    if not committed_any:
                        raise _invalid_assignee() from None
                    for change in pending:
                        results[change.ticket_id] = "FORBIDDEN"
                    break
                deletes = sum(1 for change in pending if change.tag_delete)
                conflicted = {
                    change.ticket_id
                    for position, change in enumerate(pending)
                    if checks + deletes + position in failed
                }
                if not conflicted:
                    conflicted = {change.ticket_id for change in pending}
                for ticket_id in conflicted:
                    results[ticket_id] = "CONFLICT"
                pending = [change for change in pending if change.ticket_id not in conflicted]
                continue
            committed_any = True
            pending = []
    return [{"id": ticket_id, "result": results[ticket_id]} for ticket_id in request.ids]


def _bulk_builder(
    org: str, pending: Sequence[_BulkChange], assign_to: str | None
) -> Callable[[TransactWrite], None]:
    def build(tx: TransactWrite) -> None:
        if assign_to is not None:
            _assignee_check(tx, org, assign_to)
        for change in pending:
            if change.tag_delete:
                tx.delete(TagModel.for_ticket(org, change.ticket_id, change.tag_delete))
        for change in pending:
            tx.save(change.item)
        for change in pending:
            if change.tag_put:
                tx.save(TagModel.for_ticket(org, change.ticket_id, change.tag_put))

    return build


# --- Comments --------------------------------------------------------------------------------


def add_comment(principal: Principal, ticket_id: str, data: CreateComment) -> Comment:
    """A public reply (anyone who sees the ticket) or an internal note (staff only)."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    org = principal.organization_id
    item = repository.get_ticket(org, ticket_id)
    if item is None or not can_see(principal, item):
        raise NotFound()
    if data.internal and not principal.is_staff:
        raise Forbidden("Only agents and admins may write internal notes.")
    comment_id = new_id()
    comment = CommentModel(
        ticket_pk(org, ticket_id),
        f"{COMMENT_PREFIX}{comment_id}",
        comment_id=comment_id,
        ticket_id=ticket_id,
        organization_id=org,
        author_id=principal.user_id,
        internal=data.internal,
        body_markdown=data.body,
        body_html=render_markdown(data.body),
        created_at=_now(),
    )

    def build(tx: TransactWrite) -> None:
        tx.save(comment, condition=CommentModel.pk.does_not_exist())

    after = {"ticketId": ticket_id, "internal": data.internal}
    action = "comment.internal_note" if data.internal else "comment.create"
    entry = _entry(principal, action, "comment", comment_id, after=after)
    audit.transact(entry, build)
    return Comment.from_model(comment)


@dataclasses.dataclass(frozen=True)
class CommentPage:
    items: list[Comment]
    next_cursor: str | None


def list_comments(principal: Principal, ticket_id: str, query: ListCommentsQuery) -> CommentPage:
    """A ticket's conversation, oldest first; requesters never receive internal notes."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    org = principal.organization_id
    limit = parse_limit(query.limit)
    public_only = not principal.is_staff
    binding = f"comments|{ticket_id}|{principal.user_id}"
    if query.cursor is None:
        page = repository.query_thread(org, ticket_id, limit, None, public_only=public_only)
        ticket = page.items[0] if page.items else None
        rest = page.items[1:]
    else:
        start = cursors.decode(org, binding, query.cursor)
        ticket = repository.get_ticket(org, ticket_id)
        page = repository.query_thread(org, ticket_id, limit, start, public_only=public_only)
        rest = page.items
    if not isinstance(ticket, TicketModel) or not can_see(principal, ticket):
        raise NotFound()
    comments = [
        Comment.from_model(item)
        for item in rest
        if isinstance(item, CommentModel) and (principal.is_staff or not item.internal)
    ]
    next_cursor = cursors.encode(org, binding, page.last_key)
    return CommentPage(comments, next_cursor)
