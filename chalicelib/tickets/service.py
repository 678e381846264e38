"""Ticket services: create, read, list and change tickets and their comments.

Services take a `Principal` and plain (validated) data and return frozen dataclasses; they never
see HTTP. Every permission (visibility, internal notes, editable fields, the status workflow,
assignees) is asked of `chalicelib.tickets.policy`; a ticket outside the caller's scope is
`NotFound`, so existence never leaks. Internal notes never leave this module for a requester.
Bulk actions live in `chalicelib.tickets.bulk`.

Every change goes through `audit.transact`, so the change and its audit record are one
DynamoDB transaction; the webhook event it causes (`chalicelib.webhooks.events.outbox_item`)
is written in the same transaction. A single-ticket change costs one read of the ticket and one
TransactWriteItems (the audit record touches no shared item), plus the search index's
BatchWriteItem calls after it (`chalicelib.tickets.search`); list pages cost a bounded number of
reads (`repository.MAX_QUERIES_PER_PAGE`). Responses carry display names from one batch read of
the page's users (`chalicelib.tickets.names`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal, Role
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.list_query import ListQuery
from chalicelib.identity import org_settings, users
from chalicelib.tickets import clock, groups, names, policy, repository, search, sla, writes
from chalicelib.tickets.markdown_render import render_markdown
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    MERGED_INTO_NOTE,
    Comment,
    CommentModel,
    Status,
    TagModel,
    Ticket,
    TicketModel,
    due_sort_key,
    is_valid_id,
    new_id,
    sla_due_key,
    sla_state,
    status_key,
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
from chalicelib.tickets.search_terms import parse_query
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel


def group_limit(principal: Principal) -> policy.GroupLimit | None:
    """The agent's `GroupLimit` when the organization limits agents to their groups, else None
    (one GetItem of the organization for an agent, plus one Query of its groups when limited)."""
    if principal.role is not Role.AGENT:
        return None
    org = principal.organization_id
    if not policy.limited_to_groups(principal, org_settings.agent_ticket_visibility(org)):
        return None
    return policy.GroupLimit(principal.user_id, frozenset(groups.groups_of(org, principal.user_id)))


def _visible_item(principal: Principal, ticket_id: str) -> TicketModel:
    item = repository.get_ticket(principal.organization_id, ticket_id)
    if item is None:
        raise NotFound()
    return policy.visible_or_not_found(principal, item, group_limit(principal))


def get_visible_ticket(principal: Principal, ticket_id: str) -> Ticket:
    """The ticket if the principal may see it; NotFound when the id is malformed, missing, in
    another organization, a requester's view of someone else's ticket, or outside an agent's
    groups when the organization limits agents to them."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    return Ticket.from_model(_visible_item(principal, ticket_id))


# --- Tickets ---------------------------------------------------------------------------------


def ticket_event_data(
    item: TicketModel,
    *,
    committed_version: int,
    changed: list[str] | None = None,
    changed_by: str | None = None,
    previous_assignee_id: str | None = None,
) -> dict[str, Any]:
    """The `data` of a ticket webhook event: the ticket as the API shows it, at the version the
    change commits (the transaction increments it), and for an update the fields it changed,
    who changed them and, when the assignee changed, the previous one (notifications read
    both: nobody is mailed about their own change)."""
    data = TicketOut.dump(Ticket.from_model(item))
    data["version"] = committed_version
    if changed is not None:
        data["changedFields"] = changed
        data["changedBy"] = changed_by
        if "assigneeId" in changed:
            data["previousAssigneeId"] = previous_assignee_id
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
    if data.followUpOf is not None:
        _check_follow_up_of(principal, data.followUpOf)
    requester_id, check_requester = principal.user_id, False
    if data.requesterId is not None or data.requester is not None:
        policy.check_open_on_behalf(principal)
    if data.groupId is not None:
        policy.check_edit_fields(principal, {"groupId"})
        groups.active_group_or_invalid(org, data.groupId)
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
        follow_up_of=data.followUpOf,
        group_id=data.groupId,
    )
    sla.apply_to_ticket(
        item,
        sla.load_settings(org),
        previous_status=None,
        previous_priority=None,
        now=item.created_at,
    )
    item.set_index_keys()
    tag_items = [TagModel.for_ticket(org, item.ticket_id, tag) for tag in data.tags]
    event = webhook_events.outbox_item(
        org, webhook_events.TICKET_CREATED, ticket_event_data(item, committed_version=1)
    )

    def build(tx: TransactWrite) -> None:
        if check_requester:
            writes.requester_check(tx, org, requester_id)
        if data.groupId is not None:
            groups.group_check(tx, org, data.groupId, None, require_active=True)
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
    if data.followUpOf is not None:
        summary["followUpOf"] = data.followUpOf
    if data.groupId is not None:
        summary["groupId"] = data.groupId
    entry = writes.entry(principal, "ticket.create", "ticket", item.ticket_id, after=summary)
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        failed = writes.failed_positions(error)
        if check_requester and 0 in failed:
            raise writes.invalid_requester("requesterId") from None
        if data.groupId is not None and (1 if check_requester else 0) in failed:
            raise groups.invalid_group() from None
        raise
    search.index_text(
        org, item.ticket_id, item.requester_id, [data.subject, data.body], public=True
    )
    return names.name_ticket(org, Ticket.from_model(item))


def _check_follow_up_of(principal: Principal, ticket_id: str) -> None:
    """A follow-up links a ticket the caller sees; any other id is the same 400 (no leak)."""
    try:
        get_visible_ticket(principal, ticket_id)
    except NotFound:
        raise ValidationFailed(
            details=[{"field": "followUpOf", "message": "must be a ticket you can see"}]
        ) from None


def _list_filters(principal: Principal, query: ListTicketsQuery) -> repository.ListFilters | None:
    """The query's filters within the caller's scope; None when nothing can match (a
    requester asking for another requester's tickets: an empty page, never an error)."""
    scope = policy.ticket_scope(principal)
    if not scope.may_filter_by_requester(query.requesterId):
        return None
    assignee = principal.user_id if query.assigneeId == "me" else query.assigneeId
    group_ids: tuple[str, ...] = ()
    if query.groupId == "mine":
        group_ids = tuple(groups.groups_of(principal.organization_id, principal.user_id))
        if not group_ids:
            return None
    elif query.groupId is not None:
        group_ids = (query.groupId,)
    limit = group_limit(principal)
    return repository.ListFilters(
        statuses=tuple(query.status or ()),
        priorities=tuple(query.priority or ()),
        assignee_id=assignee,
        requester_id=scope.requester_filter(query.requesterId),
        tag=query.tag,
        updated_since=query.updatedSince,
        group_ids=group_ids,
        visible_to=limit.user_id if limit else None,
        visible_groups=tuple(sorted(limit.group_ids)) if limit else (),
        sla_states=tuple(query.slaState or ()),
        now=clock.now() if query.slaState else None,
    )


def _matches(filters: repository.ListFilters) -> Any:
    """The filters as a predicate on a fetched ticket (tag and search pages filter in memory)."""

    def matches(item: TicketModel) -> bool:
        return (
            (not filters.statuses or item.status in filters.statuses)
            and (not filters.priorities or item.priority in filters.priorities)
            and (filters.assignee_id is None or item.assignee_id == filters.assignee_id)
            and (filters.requester_id is None or item.requester_id == filters.requester_id)
            and (filters.tag is None or filters.tag in (item.tags or []))
            and (filters.updated_since is None or item.updated_at >= filters.updated_since)
            and (not filters.group_ids or item.group_id in filters.group_ids)
            and (
                filters.visible_to is None
                or policy.GroupLimit(filters.visible_to, frozenset(filters.visible_groups)).allows(
                    item.group_id, item.assignee_id
                )
            )
            and (
                not filters.sla_states
                or sla_state(item, filters.now or clock.now()) in filters.sla_states
            )
        )

    return matches


def list_tickets(principal: Principal, query: ListTicketsQuery) -> Page[Ticket]:
    """One page of the tickets the principal may see, filtered and sorted (`q`: searched).

    A page holds `limit` tickets whenever that many matches remain, unless it took
    `repository.MAX_QUERIES_PER_PAGE` reads without filling (then it is short and its cursor
    resumes where reading stopped). A requester's list and search read only their own index
    partitions, so pages and cursors depend on nothing but their own tickets."""
    org = principal.organization_id
    filters = _list_filters(principal, query)
    if filters is None:
        return Page([], None)
    # The group filter is bound as asked (`mine`), so a membership change between two pages
    # does not invalidate the cursor.
    binding_fields = {
        # `now` moves between pages; a caller's groups may change between pages.
        "filters": dataclasses.asdict(filters)
        | {"group_ids": query.groupId, "visible_groups": 0, "now": None},
        "sort": query.sort,
        "q": query.q,
    }
    binding = "tickets|" + principal.user_id + "|" + audit.canonical_json(binding_fields)
    start = cursors.decode(org, binding, query.cursor)
    if query.q is not None:
        if query.sort != "-createdAt":
            raise ValidationFailed(
                details=[{"field": "sort", "message": "search results are newest first only"}]
            )
        found = search.search_page(
            org,
            parse_query(query.q),
            requester_id=filters.requester_id if not principal.is_staff else None,
            matches=_matches(filters),
            limit=query.limit,
            before_id=start["before"] if isinstance(start, dict) else None,
        )
        items = found.items
        position: Any = {"before": found.before_id} if found.before_id else None
    elif filters.tag is not None and principal.is_staff and query.sort.lstrip("-") == "createdAt":
        page = repository.fill_tag_page(
            org,
            filters.tag,
            _matches(filters),
            query.limit,
            start,
            ascending=query.sort == "createdAt",
        )
        items, position = page.items, page.last_key
    else:
        plan = repository.plan_ticket_query(org, filters, query.sort)
        page = repository.fill_ticket_page(plan, query.limit, start)
        items, position = page.items, page.last_key
    limit = (
        policy.GroupLimit(filters.visible_to, frozenset(filters.visible_groups))
        if filters.visible_to is not None
        else None
    )
    tickets = [Ticket.from_model(item) for item in items if policy.can_see(principal, item, limit)]
    return Page(names.name_tickets(org, tickets), cursors.encode(org, binding, position))


def _changes(item: TicketModel, data: UpdateTicket) -> dict[str, Any]:
    """The fields of the patch whose value differs from the ticket's."""
    fields = data.model_fields_set
    current = {
        "subject": item.subject,
        "status": item.status,
        "priority": item.priority,
        "assigneeId": item.assignee_id,
        "tags": list(item.tags or []),
        "groupId": item.group_id,
    }
    return {
        name: getattr(data, name)
        for name in ("subject", "status", "priority", "assigneeId", "tags", "groupId")
        if name in fields and getattr(data, name) != current[name]
    }


def _audit_summary(item: TicketModel, changes: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Before/after summaries (the subject is user text: recorded as changed, not copied)."""
    names = {
        "status": "status",
        "priority": "priority",
        "assigneeId": "assignee_id",
        "groupId": "group_id",
    }
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
    if "groupId" in changes:
        return "ticket.group_change"
    return "ticket.update"


@dataclasses.dataclass(frozen=True)
class _GroupRule:
    """The group condition a ticket change commits with (None: the change touches no group)."""

    group_id: str
    member_id: str | None
    require_active: bool


def _group_rule(org: str, item: TicketModel, changes: dict[str, Any]) -> _GroupRule | None:
    """Check the group rules of a change (400 naming the rule) and return the condition that
    keeps them true at commit time: a ticket goes only into an active group of the organization,
    and a ticket in a group is assigned only to a member of it; a new group must include the
    current assignee (the change is refused, the assignee is never cleared silently)."""
    group_id = changes.get("groupId", item.group_id)
    assignee = changes.get("assigneeId", item.assignee_id)
    if group_id is None:
        return None
    if "groupId" in changes:
        group = groups.active_group_or_invalid(org, group_id)
        if assignee is not None and assignee not in (group.member_ids or []):
            if "assigneeId" in changes:
                raise groups.assignee_not_member()
            raise groups.group_excludes_assignee()
        return _GroupRule(group_id, assignee, require_active=True)
    if "assigneeId" in changes and assignee is not None:
        try:
            group = groups.get_group(org, group_id)
        except NotFound:
            raise groups.assignee_not_member() from None
        if assignee not in (group.member_ids or []):
            raise groups.assignee_not_member()
        return _GroupRule(group_id, assignee, require_active=False)
    return None


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
    policy.check_not_merged(item, changes.keys())
    if "status" in changes:
        policy.check_transition(principal, item.status, changes["status"])
    return changes


def _apply(item: TicketModel, changes: dict[str, Any], tags: list[str]) -> None:
    """Set the changed fields on the ticket item, its timestamp and its index keys."""
    item.subject = changes.get("subject", item.subject)
    item.status = changes.get("status", item.status)
    item.priority = changes.get("priority", item.priority)
    if "assigneeId" in changes:
        item.assignee_id = changes["assigneeId"]
    if "groupId" in changes:
        item.group_id = changes["groupId"]
    item.tags = tags
    item.updated_at = writes.now()
    item.set_index_keys()


def update_ticket(
    principal: Principal, ticket_id: str, data: UpdateTicket, if_match: int
) -> Ticket:
    """Apply a patch if `if_match` is still the ticket's version (else 409)."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    _check_patch_shape(data)
    org = principal.organization_id
    item = _visible_item(principal, ticket_id)
    changes = _allowed_changes(principal, item, data, if_match)
    if not changes:
        return names.name_ticket(org, Ticket.from_model(item))
    group_rule = _group_rule(org, item, changes)

    before, after = _audit_summary(item, changes)
    old_tags = list(item.tags or [])
    new_tags: list[str] = list(changes.get("tags", old_tags))
    removed = [tag for tag in old_tags if tag not in new_tags]
    added = [tag for tag in new_tags if tag not in old_tags]
    previous_assignee_id = item.assignee_id
    previous_status, previous_priority = item.status, item.priority
    previous_group_id = item.group_id
    _apply(item, changes, new_tags)
    if changes.keys() & {"status", "priority", "groupId"}:
        sla.apply_to_ticket(
            item,
            sla.load_settings(org),
            previous_status=previous_status,
            previous_priority=previous_priority,
            now=item.updated_at,
            group_changed=item.group_id != previous_group_id,
        )
        item.set_index_keys()
    assign_to = changes.get("assigneeId")
    event = webhook_events.outbox_item(
        org,
        webhook_events.TICKET_UPDATED,
        ticket_event_data(
            item,
            committed_version=if_match + 1,
            changed=sorted(changes),
            changed_by=principal.user_id,
            previous_assignee_id=previous_assignee_id,
        ),
    )

    def build(tx: TransactWrite) -> None:
        if assign_to is not None:
            writes.assignee_check(tx, org, assign_to)
        if group_rule is not None:
            groups.group_check(
                tx,
                org,
                group_rule.group_id,
                group_rule.member_id,
                require_active=group_rule.require_active,
            )
        for tag in removed:
            tx.delete(TagModel.for_ticket(org, ticket_id, tag))
        tx.save(item)  # conditioned on the version read (pynamodb VersionAttribute)
        for tag in added:
            tx.save(TagModel.for_ticket(org, ticket_id, tag))
        tx.save(event, condition=EventModel.pk.does_not_exist())

    group_position = 1 if assign_to is not None else 0
    ticket_position = group_position + (1 if group_rule is not None else 0) + len(removed)
    entry = writes.entry(
        principal, _action_for(changes), "ticket", ticket_id, before=before, after=after
    )
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        failed = writes.failed_positions(error)
        if assign_to is not None and 0 in failed:
            raise writes.invalid_assignee() from None
        if group_rule is not None and group_position in failed:
            if "groupId" in changes:
                raise groups.invalid_group() from None
            raise groups.assignee_not_member() from None
        if ticket_position in failed:
            raise Conflict("The ticket was changed by someone else; reload it and retry.") from None
        raise
    if "subject" in changes:
        search.reindex_ticket(org, ticket_id)  # the old subject's words must stop matching
    return names.name_ticket(org, Ticket.from_model(item))


# --- Comments --------------------------------------------------------------------------------


CLOSED_REPLY = (
    "This ticket is closed and takes no more replies. Open a follow-up ticket instead: "
    'POST /api/tickets with "followUpOf": "{ticket_id}" links it to this one.'
)


def _comment_effects(
    principal: Principal, item: TicketModel, *, internal: bool, now: str
) -> tuple[list[Any], Any]:
    """What a comment does to its ticket: (update actions, condition on the ticket item).

    Every comment sets `updatedAt`; a requester's reply reopens a RESOLVED ticket and is refused
    on a CLOSED one (Conflict naming the follow-up); the first public staff reply sets
    `firstRespondedAt`. The condition makes the status read still hold at commit time."""
    reopen = not principal.is_staff and item.status == Status.RESOLVED
    if not principal.is_staff and item.status == Status.CLOSED:
        raise Conflict(CLOSED_REPLY.format(ticket_id=item.ticket_id))
    status = Status.OPEN if reopen else item.status
    actions: list[Any] = [
        TicketModel.updated_at.set(now),
        TicketModel.upd_sk.set(f"{now}#{item.ticket_id}"),
    ]
    sla_before, status_read = item.running_sla_due(), item.status
    next_due_before = item.next_due()
    if reopen:
        actions += [
            TicketModel.status.set(status),
            TicketModel.gsi_status.set(status_key(item.organization_id, status)),
        ]
        previous_status, item.status = item.status, status
        sla.apply_to_ticket(
            item,
            sla.load_settings(item.organization_id),
            previous_status=previous_status,
            previous_priority=item.priority,
            now=now,
        )
        actions += [
            _set_or_remove(TicketModel.resolution_due_at, item.resolution_due_at),
            _set_or_remove(TicketModel.resolution_risk_at, item.resolution_risk_at),
            _set_or_remove(TicketModel.sla_paused_at, item.sla_paused_at),
        ]
    if principal.is_staff and not internal and item.first_responded_at is None:
        actions.append(TicketModel.first_responded_at.set(TicketModel.first_responded_at | now))
        item.first_responded_at = now  # stops the first-response clock
    if item.next_due() != next_due_before:
        actions.append(TicketModel.due_sk.set(due_sort_key(item.next_due(), item.ticket_id)))
    due = item.running_sla_due()
    if due != sla_before:
        actions += [
            _set_or_remove(TicketModel.gsi_sla_due, sla_due_key(item.ticket_id) if due else None),
            _set_or_remove(TicketModel.sla_due_sk, f"{due}#{item.ticket_id}" if due else None),
        ]
    condition: Any = (
        TicketModel.pk.exists() if principal.is_staff else TicketModel.status == status_read
    )
    return actions, condition


def _set_or_remove(attribute: Any, value: str | None) -> Any:
    return attribute.set(value) if value is not None else attribute.remove()


def add_comment(principal: Principal, ticket_id: str, data: CreateComment) -> Comment:
    """A public reply (anyone who sees the ticket) or an internal note (staff only), written
    with its effects on the ticket (see `_comment_effects`) in one transaction; the ticket's
    version goes up, so a PATCH made with the version read before the comment is a 409."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    org = principal.organization_id
    item = _visible_item(principal, ticket_id)
    policy.check_comment(principal, internal=data.internal)
    now = writes.now()
    actions, condition = _comment_effects(principal, item, internal=data.internal, now=now)
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
        created_at=now,
    )

    event = webhook_events.outbox_item(
        org, webhook_events.COMMENT_CREATED, CommentOut.dump(Comment.from_model(comment))
    )

    def build(tx: TransactWrite) -> None:
        tx.save(comment, condition=CommentModel.pk.does_not_exist())
        tx.save(event, condition=EventModel.pk.does_not_exist())
        tx.update(item, actions=actions, condition=condition, add_version_condition=False)

    after = {"ticketId": ticket_id, "internal": data.internal}
    action = "comment.internal_note" if data.internal else "comment.create"
    entry = writes.entry(principal, action, "comment", comment_id, after=after)
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        # Only the ticket's condition can fail (the comment, event and audit record are new
        # items): the ticket changed status between the read and the commit.
        if writes.failed_positions(error):
            raise Conflict("The ticket changed while you replied; reload it and retry.") from None
        raise
    search.index_text(org, ticket_id, item.requester_id, [data.body], public=not data.internal)
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
        found = ticket if isinstance(ticket, TicketModel) else None
        visible = policy.visible_or_not_found(
            principal, found, group_limit(principal) if found is not None else None
        )
        if visible.merged_from:  # the conversation spans the merged tickets' collections
            return _list_merged_comments(principal, visible, query)
    else:
        start = cursors.decode(org, binding, query.cursor)
        visible = _visible_item(principal, ticket_id)
        if isinstance(start, dict) and MERGED_POSITION in start:
            return _list_merged_comments(principal, visible, query, start[MERGED_POSITION])
        page = repository.query_thread(org, ticket_id, limit, start, public_only=public_only)
        rest = page.items
    comments = [
        Comment.from_model(item)
        for item in rest
        if isinstance(item, CommentModel) and policy.can_see_comment(principal, item)
    ]
    next_cursor = cursors.encode(org, binding, page.last_key)
    return Page(names.name_comments(org, comments), next_cursor)


# A merged conversation's cursor: {MERGED_POSITION: {ticket id: last comment sort key read}}.
MERGED_POSITION = "merged"


def _list_merged_comments(
    principal: Principal,
    ticket: TicketModel,
    query: ListQuery,
    positions: dict[str, str] | None = None,
) -> Page[Comment]:
    """The conversation of a ticket that others were merged into: its own comments and those of
    every merged ticket, in one oldest-first order (comment ids are time-ordered, so sort keys
    of different tickets compare by age). One Query per ticket per page (at most
    `1 + MAX_MERGED_FROM`); the cursor keeps each ticket's position. Each comment names the
    ticket it was written on (`ticketId`)."""
    org = principal.organization_id
    public_only = not policy.sees_internal_notes(principal)
    binding = f"comments|{ticket.ticket_id}|{principal.user_id}"
    ticket_ids = [ticket.ticket_id, *(ticket.merged_from or [])]
    positions = dict(positions or {})
    limit = query.limit
    read: dict[str, tuple[list[CommentModel], str | None]] = {}
    for tid in ticket_ids:
        if positions.get(tid) != EXHAUSTED:
            read[tid] = repository.query_comments_after(
                org, tid, positions.get(tid), limit, public_only=public_only
            )
    candidates = sorted(
        (item for items, _stopped in read.values() for item in items), key=lambda item: item.sk
    )
    page = candidates[:limit]
    taken = {(item.ticket_id, item.sk) for item in page}
    for tid, (items, stopped) in read.items():
        mine = [item for item in items if (tid, item.sk) in taken]
        if len(mine) == len(items):  # all read were taken: resume where reading stopped
            positions[tid] = stopped if stopped is not None else EXHAUSTED
        elif mine:
            positions[tid] = mine[-1].sk
    more = any(positions.get(tid) != EXHAUSTED for tid in ticket_ids)
    comments = [
        Comment.from_model(item)
        for item in page
        if policy.can_see_comment(principal, item)
        and not (item.ticket_id != ticket.ticket_id and item.system == MERGED_INTO_NOTE)
    ]
    next_position = {MERGED_POSITION: positions} if more else None
    return Page(names.name_comments(org, comments), cursors.encode(org, binding, next_position))


EXHAUSTED = "~"  # a merged cursor's position of a ticket with nothing more to read
