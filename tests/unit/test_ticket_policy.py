"""The per-object ticket and comment rules, as tables of role x situation -> outcome.

Each expected table is written out here, not read from the policy module, so changing a rule
(a new transition, a field a requester may edit, who reads internal notes) fails a test.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from chalicelib.authz.principal import Principal, Role
from chalicelib.core.errors import Forbidden, NotFound
from chalicelib.tickets import policy
from chalicelib.tickets.models import CommentModel, Ticket, TicketModel

ORG = "acme"
REQUESTER = Principal(user_id="req-1", organization_id=ORG, role=Role.REQUESTER)
OTHER_REQUESTER = Principal(user_id="req-2", organization_id=ORG, role=Role.REQUESTER)
AGENT = Principal(user_id="agent-1", organization_id=ORG, role=Role.AGENT)
ADMIN = Principal(user_id="admin-1", organization_id=ORG, role=Role.ADMIN)
FOREIGN_ADMIN = Principal(user_id="admin-9", organization_id="globex", role=Role.ADMIN)
STATUSES = ("OPEN", "PENDING", "RESOLVED", "CLOSED")


def _ticket(organization_id: str = ORG, requester_id: str = "req-1") -> TicketModel:
    return TicketModel.new(
        organization_id,
        requester_id=requester_id,
        subject="Printer on fire",
        body_markdown="smoke",
        body_html="<p>smoke</p>",
        now="2026-01-01T00:00:00.000+00:00",
    )


def _comment(*, internal: bool) -> CommentModel:
    return CommentModel(
        "pk", "COMMENT#1", comment_id="1", ticket_id="t", organization_id=ORG,
        author_id="agent-1", internal=internal, body_markdown="x", body_html="x", created_at="t",
    )  # fmt: skip


@pytest.mark.parametrize(
    "principal,ticket_org,requester_id,visible",
    [
        (REQUESTER, ORG, "req-1", True),  # their own ticket
        (REQUESTER, ORG, "req-2", False),  # another requester's ticket
        (OTHER_REQUESTER, ORG, "req-1", False),
        (AGENT, ORG, "req-1", True),
        (AGENT, ORG, "req-2", True),
        (ADMIN, ORG, "req-2", True),
        (FOREIGN_ADMIN, ORG, "req-1", False),  # another organization, whatever the role
        (REQUESTER, "globex", "req-1", False),  # same user id, another organization
    ],
)
def test_who_sees_a_ticket(
    principal: Principal, ticket_org: str, requester_id: str, visible: bool
) -> None:
    item = _ticket(ticket_org, requester_id)
    assert policy.can_see(principal, item) is visible
    if visible:
        assert policy.visible_or_not_found(principal, item) is item
    else:
        with pytest.raises(NotFound):  # 404, never 403: existence does not leak
            policy.visible_or_not_found(principal, item)


def test_a_ticket_with_no_organization_is_nobodys() -> None:
    ticket = dataclasses.replace(Ticket.from_model(_ticket()), organization_id="")
    blank = Principal(user_id="req-1", organization_id="", role=Role.ADMIN)
    assert not policy.can_see(blank, ticket)


def test_a_missing_ticket_is_not_found() -> None:
    with pytest.raises(NotFound):
        policy.visible_or_not_found(ADMIN, None)


@pytest.mark.parametrize(
    "principal,requested,listable,runs_with",
    [
        (REQUESTER, None, True, "req-1"),  # no filter: narrowed to their own tickets
        (REQUESTER, "req-1", True, "req-1"),
        (REQUESTER, "req-2", False, "req-1"),  # asking for someone else's: an empty page
        (AGENT, None, True, None),  # staff: the whole organization
        (AGENT, "req-2", True, "req-2"),
        (ADMIN, "req-1", True, "req-1"),
    ],
)
def test_listing_is_narrowed_to_the_scope(
    principal: Principal, requested: str | None, listable: bool, runs_with: str | None
) -> None:
    scope = policy.ticket_scope(principal)
    assert scope.organization_id == ORG
    assert scope.may_filter_by_requester(requested) is listable
    assert scope.requester_filter(requested) == runs_with


@pytest.mark.parametrize(
    "principal,sees_notes",
    [(REQUESTER, False), (AGENT, True), (ADMIN, True)],
)
def test_internal_notes_are_for_staff(principal: Principal, sees_notes: bool) -> None:
    assert policy.sees_internal_notes(principal) is sees_notes
    assert policy.may_write_internal_note(principal) is sees_notes
    assert policy.can_see_comment(principal, _comment(internal=False))
    assert policy.can_see_comment(principal, _comment(internal=True)) is sees_notes
    policy.check_comment(principal, internal=False)  # a public reply: anyone who sees the ticket
    if sees_notes:
        policy.check_comment(principal, internal=True)
    else:
        with pytest.raises(Forbidden, match="Only agents and admins may write internal notes"):
            policy.check_comment(principal, internal=True)


PATCH_FIELDS = ("subject", "status", "priority", "assigneeId", "tags")
REQUESTER_MAY_SEND = {"subject", "status"}


@pytest.mark.parametrize(
    "fields",
    [
        frozenset(combo)
        for size in range(1, len(PATCH_FIELDS) + 1)
        for combo in itertools.combinations(PATCH_FIELDS, size)
    ],
)
def test_editable_fields_per_role(fields: frozenset[str]) -> None:
    for staff in (AGENT, ADMIN):
        assert policy.may_edit_fields(staff, fields)
        policy.check_edit_fields(staff, fields)
    allowed = fields <= REQUESTER_MAY_SEND
    assert policy.may_edit_fields(REQUESTER, fields) is allowed
    if not allowed:
        with pytest.raises(Forbidden, match="Requesters may only change the subject or close"):
            policy.check_edit_fields(REQUESTER, fields)


# (current, target) pairs each role may take; every other pair is refused. Staying put is allowed.
STAFF_MOVES = {
    ("OPEN", "PENDING"),
    ("OPEN", "RESOLVED"),
    ("OPEN", "CLOSED"),
    ("PENDING", "OPEN"),
    ("PENDING", "RESOLVED"),
    ("PENDING", "CLOSED"),
    ("RESOLVED", "OPEN"),
    ("RESOLVED", "CLOSED"),
    ("CLOSED", "OPEN"),
}
REQUESTER_MOVES = {("OPEN", "CLOSED"), ("PENDING", "CLOSED"), ("RESOLVED", "CLOSED")}


@pytest.mark.parametrize(
    "principal,moves",
    [(REQUESTER, REQUESTER_MOVES), (AGENT, STAFF_MOVES), (ADMIN, STAFF_MOVES)],
    ids=["requester", "agent", "admin"],
)
@pytest.mark.parametrize("current,target", list(itertools.product(STATUSES, STATUSES)))
def test_status_workflow_per_role(
    principal: Principal, moves: set[tuple[str, str]], current: str, target: str
) -> None:
    allowed = current == target or (current, target) in moves
    assert policy.may_transition(principal, current, target) is allowed
    if allowed:
        policy.check_transition(principal, current, target)
    else:
        with pytest.raises(Forbidden) as refused:
            policy.check_transition(principal, current, target)
        assert refused.value.message == f"The status cannot change from {current} to {target}."


def test_an_unknown_current_status_allows_no_move() -> None:
    assert not policy.may_transition(ADMIN, "ARCHIVED", "OPEN")


def test_assignees_are_agents_and_admins() -> None:
    assert {Role.AGENT, Role.ADMIN} == policy.ASSIGNEE_ROLES


@pytest.mark.parametrize(
    "principal,allowed",
    [(REQUESTER, False), (AGENT, True), (ADMIN, True)],
)
def test_bulk_actions_are_for_staff(principal: Principal, allowed: bool) -> None:
    assert policy.may_bulk_update(principal) is allowed
    if allowed:
        policy.check_bulk_update(principal)
    else:
        with pytest.raises(Forbidden):
            policy.check_bulk_update(principal)
