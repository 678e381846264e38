"""Ticket services: create, read, list and change tickets and their comments.

Services take a `Principal` and plain (validated) data and return frozen dataclasses; they never
see HTTP. Every permission (visibility, internal notes, editable fields, the status workflow,
assignees) is asked of `chalicelib.tickets.policy`; a ticket outside the caller's scope is
`NotFound`, so existence never leaks. Internal notes never leave this module for a requester.
Bulk actions live in `chalicelib.tickets.bulk`.

Every change goes through `audit.transact`, so the change and its audit record are one
DynamoDB transaction; the webhook event it causes (`chalicelib.webhooks.events.outbox_item`)
is written in the same transaction. Reads are shaped so each request costs at most two round
trips: one read of the ticket(s), one TransactWriteItems (the audit record touches no shared
item).
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal, Role
from chalicelib.core import cursors
from chalicelib.core.cursors import ListQuery, Page
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.identity import users
from chalicelib.tickets import names, policy, repository, writes
from chalicelib.tickets.markdown_render import render_markdown
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    Comment,
    CommentModel,
    TagModel,
    Ticket,
    TicketModel,
    is_valid_id,
    new_id,
    ticket_pk,
)
from chalicelib.tickets.schemas import (
    CommentOut,
    CreateComment,
    CreateTicket,
    ListTicketsQuery,
    TicketOut,
    UpdateTicket,
)
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel


def get_visible_ticket(principal: Principal, ticket_id: str) -> Ticket:
    """The ticket if the principal may see it; NotFound when the id is malformed, missing, in
    another organization, or a requester's view of someone else's ticket."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    item = repository.get_ticket(principal.organization_id, ticket_id)
    return Ticket.from_model(policy.visible_or_not_found(principal, item))


# --- Tickets ---------------------------------------------------------------------------------


def ticket_event_data(
    item: TicketModel, *, committed_version: int, changed: list[str] | None = None
) -> dict[str, Any]:
    """The `data` of a ticket webhook event: the ticket as the API shows it, at the version the
    change commits (the transaction increments it), and for an update the fields it changed."""
    data = TicketOut.dump(Ticket.from_model(item))
    data["version"] = committed_version
    if changed is not None:
        data["changedFields"] = changed
    return data


def view_ticket(principal: Principal, ticket_id: str) -> Ticket:
    """`get_visible_ticket` with the display names the response carries."""
    return names.name_ticket(principal.organization_id, get_visible_ticket(principal, ticket_id))


def _customer_by_email(principal: Principal, email: str, name: str) -> str:
    """The id of the organization's requester with this e-mail, created (audited, without a
    password: the customer can be invited later) when the organization has nobody with it."""
    org = principal.organization_id
    user = users.find_by_email(org, email)
    if user is None:
        try:
            user = users.create_user(
                org,
                email=email,
                name=name,
                role=Role.REQUESTER,
                password=None,
                actor_id=principal.user_id,
            )
        except Conflict:
            user = users.find_by_email(org, email)  # created meanwhile by a concurrent request
    if user is None or user.role not in policy.ON_BEHALF_REQUESTER_ROLES or not user.active:
        raise writes.invalid_requester("requester")
    return user.id


def create_ticket(principal: Principal, data: CreateTicket) -> Ticket:
    """Open a ticket (one transaction): requested by the caller, or, for staff, on behalf of a
    customer given by `requesterId` (checked at commit time to be an active requester of the
    organization) or by `requester` (found by e-mail within the organization, or created). The
    ticket records the caller as `submitterId`; the audit record names both."""
    org = principal.organization_id
    requester_id, check_requester = principal.user_id, False
    if data.requesterId is not None or data.requester is not None:
        policy.check_open_on_behalf(principal)
    if data.requesterId is not None:
        requester_id, check_requester = data.requesterId, True
    elif data.requester is not None:
        requester_id = _customer_by_email(principal, data.requester.email, data.requester.name)
    item = TicketModel.new(
        org,
        requester_id=requester_id,
        submitter_id=principal.user_id,
        subject=data.subject,
        body_markdown=data.body,
        body_html=render_markdown(data.body),
        priority=data.priority,
        tags=list(data.tags),
        now=writes.now(),
    )
    tag_items = [TagModel.for_ticket(org, item.ticket_id, tag) for tag in data.tags]
    event = webhook_events.outbox_item(
        org, webhook_events.TICKET_CREATED, ticket_event_data(item, committed_version=1)
    )

    def build(tx: TransactWrite) -> None:
        if check_requester:
            writes.requester_check(tx, org, requester_id)
        tx.save(item, condition=TicketModel.pk.does_not_exist())
        for tag_item in tag_items:
            tx.save(tag_item)
        tx.save(event, condition=EventModel.pk.does_not_exist())

    summary: dict[str, Any] = {
        "status": item.status,
        "priority": item.priority,
        "tags": list(data.tags),
    }
    if requester_id != principal.user_id:
        summary |= {"requesterId": requester_id, "submitterId": principal.user_id}
    entry = writes.entry(principal, "ticket.create", "ticket", item.ticket_id, after=summary)
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        if check_requester and 0 in writes.failed_positions(error):
            raise writes.invalid_requester("requesterId") from None
        raise
    return names.name_ticket(org, Ticket.from_model(item))


def list_tickets(principal: Principal, query: ListTicketsQuery) -> Page[Ticket]:
    """One page of the tickets the principal may see, newest first, filtered."""
    org = principal.organization_id
    limit = query.limit
    scope = policy.ticket_scope(principal)
    if not scope.may_filter_by_requester(query.requesterId):
        return Page([], None)  # another requester's tickets: nothing, never an error
    requester_id = scope.requester_filter(query.requesterId)
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
    tickets = [Ticket.from_model(item) for item in items if policy.can_see(principal, item)]
    next_cursor = cursors.encode(org, binding, page.last_key)
    return Page(names.name_tickets(org, tickets), next_cursor)


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
    policy.check_edit_fields(principal, data.model_fields_set)
    if int(item.version or 0) != if_match:
        raise Conflict("The ticket was changed by someone else; reload it and retry.")
    changes = _changes(item, data)
    if "status" in changes:
        policy.check_transition(principal, item.status, changes["status"])
    return changes


def update_ticket(
    principal: Principal, ticket_id: str, data: UpdateTicket, if_match: int
) -> Ticket:
    """Apply a patch if `if_match` is still the ticket's version (else 409)."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    _check_patch_shape(data)
    org = principal.organization_id
    item = policy.visible_or_not_found(principal, repository.get_ticket(org, ticket_id))
    changes = _allowed_changes(principal, item, data, if_match)
    if not changes:
        return names.name_ticket(org, Ticket.from_model(item))

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
    item.updated_at = writes.now()
    item.set_index_keys()
    assign_to = changes.get("assigneeId")
    event = webhook_events.outbox_item(
        org,
        webhook_events.TICKET_UPDATED,
        ticket_event_data(item, committed_version=if_match + 1, changed=sorted(changes)),
    )

    def build(tx: TransactWrite) -> None:
        if assign_to is not None:
            writes.assignee_check(tx, org, assign_to)
        for tag in removed:
            tx.delete(TagModel.for_ticket(org, ticket_id, tag))
        tx.save(item)  # conditioned on the version read (pynamodb VersionAttribute)
        for tag in added:
            tx.save(TagModel.for_ticket(org, ticket_id, tag))
        tx.save(event, condition=EventModel.pk.does_not_exist())

    ticket_position = (1 if assign_to is not None else 0) + len(removed)
    entry = writes.entry(
        principal, _action_for(changes), "ticket", ticket_id, before=before, after=after
    )
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        failed = writes.failed_positions(error)
        if assign_to is not None and 0 in failed:
            raise writes.invalid_assignee() from None
        if ticket_position in failed:
            raise Conflict("The ticket was changed by someone else; reload it and retry.") from None
        raise
    return names.name_ticket(org, Ticket.from_model(item))


# --- Comments --------------------------------------------------------------------------------


def add_comment(principal: Principal, ticket_id: str, data: CreateComment) -> Comment:
    """A public reply (anyone who sees the ticket) or an internal note (staff only)."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    org = principal.organization_id
    policy.visible_or_not_found(principal, repository.get_ticket(org, ticket_id))
    policy.check_comment(principal, internal=data.internal)
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
        created_at=writes.now(),
    )

    event = webhook_events.outbox_item(
        org, webhook_events.COMMENT_CREATED, CommentOut.dump(Comment.from_model(comment))
    )

    def build(tx: TransactWrite) -> None:
        tx.save(comment, condition=CommentModel.pk.does_not_exist())
        tx.save(event, condition=EventModel.pk.does_not_exist())

    after = {"ticketId": ticket_id, "internal": data.internal}
    action = "comment.internal_note" if data.internal else "comment.create"
    entry = writes.entry(principal, action, "comment", comment_id, after=after)
    audit.transact(entry, build)
    return names.name_comments(org, [Comment.from_model(comment)])[0]


def list_comments(principal: Principal, ticket_id: str, query: ListQuery) -> Page[Comment]:
    """A ticket's conversation, oldest first; requesters never receive internal notes."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    org = principal.organization_id
    limit = query.limit
    public_only = not policy.sees_internal_notes(principal)
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
    policy.visible_or_not_found(principal, ticket if isinstance(ticket, TicketModel) else None)
    comments = [
        Comment.from_model(item)
        for item in rest
        if isinstance(item, CommentModel) and policy.can_see_comment(principal, item)
    ]
    next_cursor = cursors.encode(org, binding, page.last_key)
    return Page(names.name_comments(org, comments), next_cursor)
