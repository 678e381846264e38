"""Who may do what with a ticket or a comment, once the route table has let the caller in.

`chalicelib.authz.policy` decides whether a role may reach a route at all; this module owns every
rule that depends on the ticket itself: which tickets a principal sees (and so which ones a listing
is narrowed to), who sees internal notes and may write them, which fields a role may change, the
status workflow per role, who may be an assignee, and who may run bulk actions. The services ask
these functions and raise what they return; they hold no permission test of their own.

A ticket the principal may not see is answered NotFound (never Forbidden), so its existence does
not leak across organizations or between requesters. Forbidden is for an action refused on a
ticket the principal does see.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Set
from typing import TypeVar

from chalicelib.authz.principal import STAFF_ROLES, Principal, Role
from chalicelib.core.errors import Conflict, Forbidden, NotFound
from chalicelib.tickets.models import CommentModel, Status, Ticket, TicketModel

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
# The patch fields a requester may send; staff may send every field of the patch schema.
REQUESTER_EDITABLE_FIELDS = frozenset({"subject", "status"})
# Roles a ticket may be assigned to. The write re-checks role and `active` on the user record at
# commit time, so a demotion racing the assignment fails the transaction.
ASSIGNEE_ROLES: frozenset[Role] = STAFF_ROLES

AnyTicket = TypeVar("AnyTicket", TicketModel, Ticket)


# --- Visibility ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TicketScope:
    """What a principal may see of an organization's tickets."""

    organization_id: str
    requester_id: str | None  # set: only tickets this user requested; None: the whole org

    def allows(self, organization_id: str, requester_id: str) -> bool:
        """Whether a ticket of this organization and requester is inside the scope."""
        if not organization_id or organization_id != self.organization_id:
            return False
        return self.requester_id is None or requester_id == self.requester_id

    def may_filter_by_requester(self, requested: str | None) -> bool:
        """False when a listing asks for another requester's tickets than the scope allows (the
        answer is then an empty page, never an error)."""
        return self.requester_id is None or requested in (None, self.requester_id)

    def requester_filter(self, requested: str | None) -> str | None:
        """The requester filter a listing runs with: the scope's own requester, if it has one."""
        return self.requester_id if self.requester_id is not None else requested


def ticket_scope(principal: Principal) -> TicketScope:
    """Staff see their organization's tickets; a requester only the ones they requested."""
    return TicketScope(
        organization_id=principal.organization_id,
        requester_id=None if principal.is_staff else principal.user_id,
    )


@dataclasses.dataclass(frozen=True)
class GroupLimit:
    """An agent's view when the organization's `agentTicketVisibility` is "groups": the tickets
    of their groups, the tickets assigned to them, and ungrouped tickets (so a new, untriaged
    ticket is never invisible to every agent)."""

    user_id: str
    group_ids: frozenset[str]

    def allows(self, group_id: str | None, assignee_id: str | None) -> bool:
        return group_id is None or group_id in self.group_ids or assignee_id == self.user_id


def limited_to_groups(principal: Principal, agent_ticket_visibility: str) -> bool:
    """Only agents are limited, and only under "groups"; admins always see every ticket (and a
    requester's scope is their own tickets anyway)."""
    return principal.role is Role.AGENT and agent_ticket_visibility == "groups"


def can_see(
    principal: Principal, ticket: TicketModel | Ticket, limit: GroupLimit | None = None
) -> bool:
    """Staff see their organization's tickets (an agent under a `GroupLimit` only those it
    allows); requesters only their own."""
    if not ticket_scope(principal).allows(ticket.organization_id, ticket.requester_id):
        return False
    return limit is None or limit.allows(ticket.group_id, ticket.assignee_id)


def visible_or_not_found(
    principal: Principal, ticket: AnyTicket | None, limit: GroupLimit | None = None
) -> AnyTicket:
    """The ticket, or NotFound when it is missing or outside the principal's scope."""
    if ticket is None or not can_see(principal, ticket, limit):
        raise NotFound()
    return ticket


# --- Comments --------------------------------------------------------------------------------


def sees_internal_notes(principal: Principal) -> bool:
    """Only staff read internal notes; requesters never receive them."""
    return principal.is_staff


def can_see_comment(principal: Principal, comment: CommentModel) -> bool:
    """A public reply is seen by whoever sees the ticket; an internal note only by staff."""
    return not comment.internal or sees_internal_notes(principal)


def may_write_internal_note(principal: Principal) -> bool:
    return principal.is_staff


def check_comment(principal: Principal, *, internal: bool) -> None:
    """Forbidden when a requester tries to write an internal note."""
    if internal and not may_write_internal_note(principal):
        raise Forbidden("Only agents and admins may write internal notes.")


# --- Editing and the status workflow ---------------------------------------------------------


def may_edit_fields(principal: Principal, fields: Set[str]) -> bool:
    """Staff may change every field; a requester only the subject and the status."""
    return principal.is_staff or fields <= REQUESTER_EDITABLE_FIELDS


def check_edit_fields(principal: Principal, fields: Set[str]) -> None:
    if not may_edit_fields(principal, fields):
        raise Forbidden("Requesters may only change the subject or close their ticket.")


def may_transition(principal: Principal, current: str, target: str) -> bool:
    """Whether the workflow lets this principal move a ticket from `current` to `target`."""
    if current == target:
        return True
    table = STAFF_TRANSITIONS if principal.is_staff else REQUESTER_TRANSITIONS
    return target in table.get(current, frozenset())


def check_transition(principal: Principal, current: str, target: str) -> None:
    if not may_transition(principal, current, target):
        raise Forbidden(f"The status cannot change from {current} to {target}.")


# --- Bulk actions ----------------------------------------------------------------------------


def may_bulk_update(principal: Principal) -> bool:
    """Bulk actions are for staff; each ticket is then still checked with `can_see` and, for a
    status change, `may_transition`."""
    return principal.is_staff


def check_bulk_update(principal: Principal) -> None:
    if not may_bulk_update(principal):
        raise Forbidden()


# --- Tickets on behalf of a customer ---------------------------------------------------------

# Who a ticket can be opened for: a customer of the organization.
ON_BEHALF_REQUESTER_ROLES = frozenset({Role.REQUESTER})


def may_open_on_behalf(principal: Principal) -> bool:
    """Agents and admins (and API tokens acting for one, with `tickets:write`) may open a
    ticket for a customer; a requester opens tickets only for themself."""
    return principal.is_staff


def check_open_on_behalf(principal: Principal) -> None:
    if not may_open_on_behalf(principal):
        raise Forbidden("Only staff may open a ticket on behalf of someone else.")


# --- Merging ---------------------------------------------------------------------------------


def may_merge(principal: Principal) -> bool:
    """Merging tickets is for staff: it changes two tickets, possibly of two requesters."""
    return principal.is_staff


def check_merge(principal: Principal) -> None:
    if not may_merge(principal):
        raise Forbidden("Only agents and admins may merge tickets.")


def may_change_status(item: TicketModel | Ticket) -> bool:
    """A merged ticket stays CLOSED: its conversation continues on the ticket it went into."""
    return not item.merged_into


def check_not_merged(item: TicketModel | Ticket, changes: Set[str]) -> None:
    if "status" in changes and not may_change_status(item):
        raise Conflict(f"This ticket was merged into ticket {item.merged_into} and stays closed.")
