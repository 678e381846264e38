"""Bulk actions: one action (status, priority, assignee, add or remove a tag) over up to 100
tickets, with one outcome per id in request order.

Who may run them and what each ticket allows is asked of `chalicelib.tickets.policy`: staff only,
a ticket the caller cannot see is NOT_FOUND, a status change the workflow refuses is FORBIDDEN,
one of a merged ticket (which stays CLOSED) is CONFLICT, and so is an assignment to someone who
is not a member of the ticket's group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.tickets import groups, policy, repository, sla, writes
from chalicelib.tickets.models import TagModel, TicketModel
from chalicelib.tickets.schemas import (
    TAGS_MAX,
    BulkAddTag,
    BulkAssign,
    BulkRemoveTag,
    BulkSetPriority,
    BulkSetStatus,
)
from chalicelib.tickets.service import group_limit, ticket_event_data
from chalicelib.webhooks import events as webhook_events

# DynamoDB allows 100 items per transaction; the audit record takes one of them.
MAX_TRANSACTION_ITEMS = 100
AUDIT_ITEMS = 1

BulkRequestData = BulkSetStatus | BulkSetPriority | BulkAssign | BulkAddTag | BulkRemoveTag


@dataclasses.dataclass
class _BulkChange:
    ticket_id: str
    item: TicketModel
    before: Any
    tag_put: str | None = None
    tag_delete: str | None = None


def _status_refusal(principal: Principal, request: BulkSetStatus, item: TicketModel) -> str | None:
    """Why a status change is refused: a merged ticket stays CLOSED, and the workflow."""
    if item.status != request.status and not policy.may_change_status(item):
        return "CONFLICT"
    if not policy.may_transition(principal, item.status, request.status):
        return "FORBIDDEN"
    return None


def _bulk_plan(  # noqa: PLR0911, PLR0912 (one early return per action's no-op)
    principal: Principal,
    request: BulkRequestData,
    item: TicketModel,
    settings: sla.SlaSettings | None,
) -> tuple[str, _BulkChange | None]:
    """The per-id outcome before writing: ("ok", change or None for a no-op) or an error code."""
    change = _BulkChange(item.ticket_id, item, None)
    if isinstance(request, BulkSetStatus):
        refusal = _status_refusal(principal, request, item)
        if refusal is not None:
            return refusal, None
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
    item.updated_at = writes.now()
    if settings is not None:
        sla.apply_to_ticket(
            item,
            settings,
            previous_status=change.before if isinstance(request, BulkSetStatus) else item.status,
            previous_priority=(
                change.before if isinstance(request, BulkSetPriority) else item.priority
            ),
            now=item.updated_at,
        )
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


def _chunks(
    changes: Sequence[_BulkChange], capacity: int, *, group_checks: bool = False
) -> list[list[_BulkChange]]:
    """Changes in transactions of at most `capacity` items: the ticket, its tag item, and (for
    an assignment, `group_checks`) one condition per distinct group of the chunk."""
    chunks: list[list[_BulkChange]] = [[]]
    used = 0
    groups: set[str] = set()
    for change in changes:
        own = 1 + (1 if change.tag_put or change.tag_delete else 0)
        group = change.item.group_id if group_checks else None
        size = own + (1 if group is not None and group not in groups else 0)
        if used + size > capacity:
            chunks.append([])
            used = 0
            groups = set()
            size = own + (1 if group is not None else 0)
        chunks[-1].append(change)
        used += size
        if group is not None:
            groups.add(group)
    return [chunk for chunk in chunks if chunk]


def _groups_of(pending: Sequence[_BulkChange]) -> list[str]:
    return sorted({change.item.group_id for change in pending if change.item.group_id})


def _group_members(
    org: str, request: BulkRequestData, tickets: Iterable[TicketModel]
) -> dict[str, set[str]]:
    """For an assignment to someone, the members of each group of the tickets (one Query of
    the organization's groups, only when a ticket is in a group)."""
    if not isinstance(request, BulkAssign) or request.assigneeId is None:
        return {}
    if not any(item.group_id for item in tickets):
        return {}
    return {g.group_id: set(g.member_ids or []) for g in groups.all_groups(org)}


def _assignable(item: TicketModel, request: BulkAssign, members: dict[str, set[str]]) -> bool:
    """A ticket in a group is assigned only to a member of that group (unassigning is free)."""
    if request.assigneeId is None or item.group_id is None:
        return True
    return request.assigneeId in members.get(item.group_id, set())


def bulk_update(principal: Principal, request: BulkRequestData) -> list[dict[str, str]]:
    """Apply one action to up to 100 tickets; per-id results in request order.

    Reads: one BatchGetItem (the tickets). Writes: one TransactWriteItems per chunk of
    changes that fits a transaction (with its own audit record); a ticket whose version moved
    meanwhile is reported CONFLICT and the rest of its chunk is retried without it.
    """
    policy.check_bulk_update(principal)
    org = principal.organization_id
    found = repository.batch_get_tickets(org, request.ids)
    limit = group_limit(principal)
    members = _group_members(org, request, found.values())
    results: dict[str, str] = {}
    changes: list[_BulkChange] = []
    settings = (
        sla.load_settings(org) if isinstance(request, BulkSetStatus | BulkSetPriority) else None
    )
    for ticket_id in request.ids:
        item = found.get(ticket_id)
        if item is None or not policy.can_see(principal, item, limit):
            results[ticket_id] = "NOT_FOUND"
            continue
        if isinstance(request, BulkAssign) and not _assignable(item, request, members):
            results[ticket_id] = "CONFLICT"  # the assignee is not a member of its group
            continue
        outcome, change = _bulk_plan(principal, request, item, settings)
        results[ticket_id] = outcome
        if change is not None:
            changes.append(change)

    assign_to = request.assigneeId if isinstance(request, BulkAssign) else None
    checks = 1 if assign_to is not None else 0
    value = _bulk_value(request)
    committed_any = False
    capacity = MAX_TRANSACTION_ITEMS - AUDIT_ITEMS - checks
    for chunk in _chunks(changes, capacity, group_checks=assign_to is not None):
        pending = list(chunk)
        while pending:
            try:
                audit.transact(
                    writes.entry(
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
                failed = writes.failed_positions(error)
                if checks and 0 in failed:
                    if not committed_any:
                        raise writes.invalid_assignee() from None
                    for change in pending:
                        results[change.ticket_id] = "FORBIDDEN"
                    break
                # The condition checks come first (the assignee, then each group), then the
                # tag deletes, then the tickets.
                checked = _groups_of(pending) if assign_to is not None else []
                left_group = {g for i, g in enumerate(checked) if checks + i in failed}
                deletes = sum(1 for change in pending if change.tag_delete)
                first_ticket = checks + len(checked) + deletes
                conflicted = {
                    change.ticket_id
                    for position, change in enumerate(pending)
                    if first_ticket + position in failed or change.item.group_id in left_group
                }
                if not conflicted:
                    conflicted = {change.ticket_id for change in pending}
                for ticket_id in conflicted:
                    results[ticket_id] = "CONFLICT"
                pending = [change for change in pending if change.ticket_id not in conflicted]
                continue
            committed_any = True
            _record_events(principal, request, pending)
            pending = []
    return [{"id": ticket_id, "result": results[ticket_id]} for ticket_id in request.ids]


# The field each action changes, as `ticket.updated` events name it.
_CHANGED_FIELD = {
    "set_status": "status",
    "set_priority": "priority",
    "assign": "assigneeId",
    "add_tag": "tags",
    "remove_tag": "tags",
}


def _record_events(
    principal: Principal, request: BulkRequestData, committed: Sequence[_BulkChange]
) -> None:
    """`ticket.updated` for each committed ticket, written right after the chunk's transaction
    (a full chunk has no room for one outbox item per ticket); a failure is logged, never
    raised (the change stands)."""
    changed = [_CHANGED_FIELD.get(request.action, request.action)]
    webhook_events.record_after(
        principal.organization_id,
        [
            (
                webhook_events.TICKET_UPDATED,
                ticket_event_data(
                    change.item,
                    committed_version=int(change.item.version),
                    changed=changed,
                    changed_by=principal.user_id,
                    previous_assignee_id=change.before if request.action == "assign" else None,
                ),
            )
            for change in committed
        ],
    )


def _bulk_builder(
    org: str, pending: Sequence[_BulkChange], assign_to: str | None
) -> Callable[[TransactWrite], None]:
    def build(tx: TransactWrite) -> None:
        if assign_to is not None:
            writes.assignee_check(tx, org, assign_to)
            # Still a member of each ticket's group at commit (a racing membership change fails).
            for group_id in _groups_of(pending):
                groups.group_check(tx, org, group_id, assign_to, require_active=False)
        for change in pending:
            if change.tag_delete:
                tx.delete(TagModel.for_ticket(org, change.ticket_id, change.tag_delete))
        for change in pending:
            tx.save(change.item)
        for change in pending:
            if change.tag_put:
                tx.save(TagModel.for_ticket(org, change.ticket_id, change.tag_put))

    return build
