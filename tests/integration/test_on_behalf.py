"""Tickets opened on behalf of a customer, and the display names in ticket bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.audit.models import AuditRecordModel
from chalicelib.authz.principal import Role
from chalicelib.core.org_keys import org_pk
from chalicelib.identity import users
from tests.support.assertions import assert_error
from tests.support.orgs import mint_api_token
from tests.support.tickets import comment, create_ticket, patch

TICKET = {"subject": "Phoned in", "body": "Customer called: VPN down."}


def _audit(org_id: str, action: str, target_id: str) -> dict[str, Any]:
    records = [
        record
        for record in AuditRecordModel.query(org_pk(org_id), AuditRecordModel.sk.startswith("REC#"))
        if record.action == action and record.target_id == target_id
    ]
    assert len(records) == 1
    return {"actor": records[0].actor_id, **json.loads(records[0].details)}


@pytest.mark.parametrize("role", ["agent", "admin"])
def test_staff_open_a_ticket_for_a_requester_by_id(client: Any, make_org: Any, role: str) -> None:
    org = make_org()
    staff = getattr(org, role)
    response = client.post(
        "/api/tickets", json={**TICKET, "requesterId": org.requester.id}, token=staff.token
    )
    assert response.status == 201, response.body
    ticket = response.json
    assert (ticket["requesterId"], ticket["submitterId"]) == (org.requester.id, staff.id)
    assert ticket["requesterName"] == "Requester"
    after = _audit(org.id, "ticket.create", ticket["id"])
    assert after["actor"] == staff.id
    assert after["after"]["requesterId"] == org.requester.id
    assert after["after"]["submitterId"] == staff.id
    # The customer sees it as theirs.
    mine = client.get("/api/tickets", token=org.requester.token).json["items"]
    assert [t["id"] for t in mine] == [ticket["id"]]


def test_a_customer_by_email_is_found_or_created_as_a_requester(client: Any, make_org: Any) -> None:
    org = make_org()
    body = {**TICKET, "requester": {"email": "Walk.In@customer.example", "name": "Walk In"}}
    first = client.post("/api/tickets", json=body, token=org.agent.token)
    assert first.status == 201, first.body
    created = users.find_by_email(org.id, "walk.in@customer.example")
    assert created is not None and created.role is Role.REQUESTER and created.name == "Walk In"
    assert first.json["requesterId"] == created.id and first.json["requesterName"] == "Walk In"
    assert _audit(org.id, "user.create", created.id)["actor"] == org.agent.id
    second = client.post("/api/tickets", json=body, token=org.admin.token)
    assert second.status == 201 and second.json["requesterId"] == created.id
    # The existing requester by e-mail keeps their own name.
    existing = {**TICKET, "requester": {"email": org.requester.email, "name": "Someone Else"}}
    third = client.post("/api/tickets", json=existing, token=org.agent.token)
    assert third.json["requesterId"] == org.requester.id
    assert third.json["requesterName"] == "Requester"


def test_invalid_requesters_get_one_answer(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    deactivated = org.add_user(Role.REQUESTER)
    users.update_user(org.id, deactivated.id, actor_id=org.admin.id, active=False)
    answers = []
    for requester_id in (other.requester.id, "f" * 32, org.agent.id, deactivated.id):
        response = client.post(
            "/api/tickets", json={**TICKET, "requesterId": requester_id}, token=org.agent.token
        )
        answers.append(assert_error(response, 400, "VALIDATION_ERROR"))
    assert all(answer == answers[0] for answer in answers)
    assert client.get("/api/tickets", token=org.agent.token).json["items"] == []
    staff_email = {**TICKET, "requester": {"email": org.agent.email, "name": "A"}}
    assert_error(
        client.post("/api/tickets", json=staff_email, token=org.admin.token),
        400,
        "VALIDATION_ERROR",
    )


def test_requesters_cannot_open_tickets_for_others(client: Any, make_org: Any) -> None:
    org = make_org()
    other = org.add_user(Role.REQUESTER)
    for extra in (
        {"requesterId": other.id},
        {"requester": {"email": "x@customer.example", "name": "X"}},
    ):
        response = client.post("/api/tickets", json={**TICKET, **extra}, token=org.requester.token)
        assert_error(response, 403, "FORBIDDEN")
    assert users.find_by_email(org.id, "x@customer.example") is None


def test_both_requester_fields_at_once_are_refused(client: Any, make_org: Any) -> None:
    org = make_org()
    body = {
        **TICKET,
        "requesterId": org.requester.id,
        "requester": {"email": org.requester.email, "name": "R"},
    }
    assert_error(
        client.post("/api/tickets", json=body, token=org.agent.token), 400, "VALIDATION_ERROR"
    )


def test_api_tokens_with_tickets_write_open_on_behalf(client: Any, make_org: Any) -> None:
    org = make_org()
    token = mint_api_token(org.admin, ["tickets:write", "tickets:read"])
    response = client.post(
        "/api/tickets", json={**TICKET, "requesterId": org.requester.id}, token=token
    )
    assert response.status == 201
    assert (response.json["requesterId"], response.json["submitterId"]) == (
        org.requester.id,
        org.admin.id,
    )
    plain = client.post("/api/tickets", json=TICKET, token=token)
    assert plain.status == 201
    assert plain.json["requesterId"] == plain.json["submitterId"] == org.admin.id


def test_bodies_carry_display_names(client: Any, make_org: Any) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester)
    assert (ticket["requesterName"], ticket["assigneeName"]) == ("Requester", None)
    assert ticket["submitterId"] == org.requester.id
    assigned = patch(client, org.agent, ticket, assigneeId=org.agent.id).json
    assert assigned["assigneeName"] == "Agent"
    users.update_user(org.id, org.agent.id, actor_id=org.admin.id, name="Dana Agent")
    comment(client, org.agent, ticket["id"], "On it")
    # The requester sees the staff's names on their own ticket, without the directory.
    seen = client.get(f"/api/tickets/{ticket['id']}", token=org.requester.token).json
    assert (seen["requesterName"], seen["assigneeName"]) == ("Requester", "Dana Agent")
    listed = client.get("/api/tickets", token=org.requester.token).json["items"]
    assert listed[0]["assigneeName"] == "Dana Agent"
    thread = client.get(f"/api/tickets/{ticket['id']}/comments", token=org.requester.token).json
    assert [c["authorName"] for c in thread["items"]] == ["Dana Agent"]
    assert client.get("/api/users", token=org.requester.token).status == 403
