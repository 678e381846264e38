"""Ticket and comment routes, per role, as a client sees them (status, body, stored items)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Role
from chalicelib.core.org_keys import org_pk
from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk
from tests.support.orgs import TestOrg
from tests.support.tickets import comment, create_ticket, patch

MakeOrg = Callable[..., TestOrg]


def _audit_actions(org_id: str) -> list[str]:
    """The organization's audited actions after its setup (make_org's user.create records)."""
    records = audit.AuditRecordModel.query(
        org_pk(org_id), audit.AuditRecordModel.sk.startswith(audit.RECORD_PREFIX)
    )
    return [record.action for record in records if record.action != "user.create"]


def test_create_by_every_role_renders_and_audits(client: Any, make_org: MakeOrg) -> None:
    org = make_org()
    for user in (org.requester, org.agent, org.admin):
        ticket = create_ticket(
            client, user, body="**Hi** <b onclick=x>there</b>", tags=["vpn", "mfa"]
        )
        assert ticket["requesterId"] == user.id
        assert ticket["organizationId"] == org.id
        assert ticket["status"] == "OPEN" and ticket["priority"] == "NORMAL"
        assert ticket["version"] == 1 and ticket["tags"] == ["vpn", "mfa"]
        assert ticket["bodyMarkdown"] == "**Hi** <b onclick=x>there</b>"
        assert ticket["bodyHtml"] == "<p><strong>Hi</strong> <b>there</b></p>"
        stored = TicketModel.get(ticket_pk(org.id, ticket["id"]), TICKET_SK)
        assert stored.body_html == ticket["bodyHtml"]
    assert _audit_actions(org.id) == ["ticket.create"] * 3


def test_create_validation_errors_have_details(client: Any, make_org: MakeOrg) -> None:
    org = make_org()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"subject": "x" * 201, "body": "b"}, "subject"),
        ({"subject": "s", "body": "b" * 20_001}, "body"),
        ({"subject": "s", "body": "b", "priority": "NOW"}, "priority"),
        ({"subject": "s", "body": "b", "tags": ["a"] * 2}, "tags"),
        ({"subject": "s", "body": "b", "tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"subject": "s", "body": "b", "tags": ["x" * 33]}, "tags.0"),
        ({"subject": "s", "body": "b", "status": "CLOSED"}, "status"),
        ({"subject": 5, "body": "b"}, "subject"),
        ({"subject": "   ", "body": "b"}, "subject"),
        ({"subject": "line\nbreak", "body": "b"}, "subject"),
        ({"body": "b"}, "subject"),
    ]
    for body, field in cases:
        response = client.post("/api/tickets", json=body, token=org.requester.token)
        assert response.status == 400, body
        assert response.json["error"]["code"] == "VALIDATION_ERROR"
        assert field in [detail["field"] for detail in response.json["error"]["details"]], body
    assert _audit_actions(org.id) == []


def test_get_visibility_per_role_and_org(client: Any, make_org: MakeOrg) -> None:
    org_a, org_b = make_org(), make_org()
    ticket = create_ticket(client, org_a.requester)
    other_requester = org_a.add_user(Role.REQUESTER)
    path = f"/api/tickets/{ticket['id']}"
    for user in (org_a.requester, org_a.agent, org_a.admin):
        response = client.get(path, token=user.token)
        assert response.status == 200 and response.json["id"] == ticket["id"]
        assert response.header("ETag") == '"1"'
    for user in (other_requester, org_b.agent, org_b.admin, org_b.requester):
        response = client.get(path, token=user.token)
        assert response.status == 404
        assert response.json == {"error": {"code": "NOT_FOUND", "message": "Not found."}}
    for bad in ("not-an-id", "0" * 31, "Z" * 32, "%2e%2e"):
        assert client.get(f"/api/tickets/{bad}", token=org_a.agent.token).status == 404
    assert client.get(path).status == 401


def test_list_scoping_and_filters(client: Any, make_org: MakeOrg) -> None:
    org_a, org_b = make_org(), make_org()
    mine = create_ticket(client, org_a.requester, priority="HIGH", tags=["vpn"])
    other_requester = org_a.add_user(Role.REQUESTER)
    theirs = create_ticket(client, other_requester, tags=["vpn"])
    foreign = create_ticket(client, org_b.requester, tags=["vpn"])
    assert patch(client, org_a.agent, theirs, assigneeId=org_a.agent.id).status == 200

    def ids(user: Any, query: str = "") -> list[str]:
        response = client.get(f"/api/tickets{query}", token=user.token)
        assert response.status == 200, response.body
        return [item["id"] for item in response.json["items"]]

    assert ids(org_a.agent) == [theirs["id"], mine["id"]]  # newest first
    assert ids(org_a.admin, "?tag=vpn") == [theirs["id"], mine["id"]]
    assert ids(org_a.requester) == [mine["id"]]
    assert ids(org_a.requester, "?tag=vpn") == [mine["id"]]
    assert ids(org_a.requester, f"?requesterId={other_requester.id}") == []
    assert ids(org_a.agent, "?priority=HIGH") == [mine["id"]]
    assert ids(org_a.agent, "?status=OPEN&priority=NORMAL") == [theirs["id"]]
    assert ids(org_a.agent, f"?assigneeId={org_a.agent.id}") == [theirs["id"]]
    assert ids(org_a.agent, f"?requesterId={org_a.requester.id}") == [mine["id"]]
    assert ids(org_a.agent, f"?assigneeId={org_a.agent.id}&tag=vpn") == [theirs["id"]]
    assert ids(org_b.agent) == [foreign["id"]]
    for query in ("?status=DONE", "?limit=0", "?limit=101", "?tag=A%20B", "?assigneeId=x", "?x=1"):
        response = client.get(f"/api/tickets{query}", token=org_a.agent.token)
        assert response.status == 400, query


def test_patch_rules_per_role(client: Any, make_org: MakeOrg) -> None:
    org, org_b = make_org(), make_org()
    ticket = create_ticket(client, org.requester)

    # Requester: own subject and closing only.
    assert patch(client, org.requester, ticket, priority="HIGH").status == 403
    assert patch(client, org.requester, ticket, status="PENDING").status == 403
    assert patch(client, org.requester, ticket, assigneeId=org.agent.id).status == 403
    renamed = patch(client, org.requester, ticket, subject="Printer smoking")
    assert renamed.status == 200 and renamed.json["version"] == 2
    assert renamed.header("ETag") == '"2"'
    # Stale version.
    stale = patch(client, org.agent, ticket, status="PENDING")
    assert stale.status == 409 and stale.json["error"]["code"] == "CONFLICT"
    ticket = renamed.json
    # Missing / malformed If-Match.
    missing = client.patch(
        f"/api/tickets/{ticket['id']}", json={"status": "PENDING"}, token=org.agent.token
    )
    assert missing.status == 428
    assert missing.json["error"]["code"] == "PRECONDITION_REQUIRED"
    assert client.get(f"/api/tickets/{ticket['id']}", token=org.agent.token).json == ticket
    malformed = patch(client, org.agent, ticket, version="abc", status="PENDING")
    assert malformed.status == 400
    assert malformed.json["error"]["details"][0]["field"] == "If-Match"
    # Assignee must be staff of the same org.
    for assignee in (org.requester.id, org_b.agent.id, "f" * 32):
        response = patch(client, org.agent, ticket, assigneeId=assignee)
        assert response.status == 400
        assert response.json["error"]["details"][0]["field"] == "assigneeId"
    # Staff workflow.
    ticket = patch(client, org.agent, ticket, status="PENDING", assigneeId=org.agent.id).json
    assert (ticket["status"], ticket["assigneeId"], ticket["version"]) == (
        "PENDING",
        org.agent.id,
        3,
    )
    ticket = patch(client, org.admin, ticket, status="RESOLVED", tags=["done"]).json
    assert patch(client, org.agent, ticket, status="PENDING").status == 403  # not a workflow step
    ticket = patch(client, org.requester, ticket, status="CLOSED").json
    assert ticket["status"] == "CLOSED"
    assert patch(client, org.requester, ticket, status="OPEN").status == 403  # reopen: staff only
    ticket = patch(client, org.agent, ticket, status="OPEN", assigneeId=None).json
    assert ticket["status"] == "OPEN" and ticket["assigneeId"] is None
    # Others cannot touch it.
    other = org.add_user(Role.REQUESTER)
    assert patch(client, other, ticket, subject="mine now").status == 404
    assert patch(client, org_b.agent, ticket, status="CLOSED").status == 404
    # Unknown fields and nulls refused.
    assert patch(client, org.agent, ticket, requesterId=org.agent.id).status == 400
    assert patch(client, org.agent, ticket, subject=None).status == 400
    assert _audit_actions(org.id) == [
        "ticket.create",
        "ticket.update",
        "ticket.status_change",
        "ticket.status_change",
        "ticket.status_change",
        "ticket.status_change",
    ]
    stored = TicketModel.get(ticket_pk(org.id, ticket["id"]), TICKET_SK)
    assert stored.tags == ["done"] and int(stored.version) == ticket["version"]


def test_comments_and_internal_notes_never_reach_requesters(client: Any, make_org: MakeOrg) -> None:
    org, org_b = make_org(), make_org()
    ticket = create_ticket(client, org.requester)
    tid = ticket["id"]
    secret = "INTERNAL-NOTE-SECRET"  # pragma: allowlist secret
    assert comment(client, org.requester, tid, "public question").status == 201
    note = comment(client, org.agent, tid, secret, internal=True)
    assert note.status == 201 and note.json["internal"] is True
    assert comment(client, org.admin, tid, "public answer").status == 201
    assert comment(client, org.requester, tid, "sneaky", internal=True).status == 403
    assert comment(client, org.add_user(Role.REQUESTER), tid, "hi").status == 404
    assert comment(client, org_b.agent, tid, "hi").status == 404

    staff_view = client.get(f"/api/tickets/{tid}/comments", token=org.agent.token).json
    assert [c["bodyMarkdown"] for c in staff_view["items"]] == [
        "public question",
        secret,
        "public answer",
    ]
    # Every response a requester can get, page by page: never the note, never a count of it.
    requester_bodies: list[str] = []
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=1" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(f"/api/tickets/{tid}/comments{query}", token=org.requester.token)
        assert response.status == 200
        requester_bodies.append(response.body.decode())
        seen += [c["bodyMarkdown"] for c in response.json["items"]]
        cursor = response.json["nextCursor"]
        if cursor is None:
            break
    assert seen == ["public question", "public answer"]
    for path in (f"/api/tickets/{tid}", "/api/tickets", "/api/tickets?status=OPEN"):
        requester_bodies.append(client.get(path, token=org.requester.token).body.decode())
    for body in requester_bodies:
        assert secret not in body
        items = json.loads(body).get("items", [])
        assert all(item.get("internal") is not True for item in items)
    assert _audit_actions(org.id) == [
        "ticket.create",
        "comment.create",
        "comment.internal_note",
        "comment.create",
    ]


def test_comment_validation_and_staff_pagination(client: Any, make_org: MakeOrg) -> None:
    org = make_org()
    tid = create_ticket(client, org.requester)["id"]
    assert comment(client, org.agent, tid, "").status == 400
    assert comment(client, org.agent, tid, "x" * 20_001).status == 400
    response = client.post(
        f"/api/tickets/{tid}/comments", json={"body": "x", "internal": "yes"}, token=org.agent.token
    )
    assert response.status == 400
    for i in range(5):
        assert comment(client, org.agent, tid, f"c{i}", internal=i % 2 == 0).status == 201
    got: list[str] = []
    cursor = None
    for _ in range(10):
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/api/tickets/{tid}/comments{query}", token=org.agent.token).json
        got += [c["bodyMarkdown"] for c in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert got == [f"c{i}" for i in range(5)]
    assert client.get("/api/tickets/bad/comments", token=org.agent.token).status == 404


def test_bulk(client: Any, make_org: MakeOrg) -> None:
    org, org_b = make_org(), make_org()
    tickets = [create_ticket(client, org.requester) for _ in range(3)]
    foreign = create_ticket(client, org_b.requester)
    closed = patch(client, org.agent, tickets[2], status="CLOSED").json
    missing = "a" * 32
    ids = [t["id"] for t in tickets] + [foreign["id"], missing]

    def bulk(user: Any, **body: Any) -> Any:
        return client.post("/api/tickets/bulk", json={"ids": ids, **body}, token=user.token)

    assert bulk(org.requester, action="set_status", status="PENDING").status == 403
    response = bulk(org.agent, action="set_status", status="PENDING")
    assert response.status == 200
    assert response.json["results"] == [
        {"id": tickets[0]["id"], "result": "ok"},
        {"id": tickets[1]["id"], "result": "ok"},
        {"id": closed["id"], "result": "FORBIDDEN"},  # CLOSED -> PENDING is not a workflow step
        {"id": foreign["id"], "result": "NOT_FOUND"},
        {"id": missing, "result": "NOT_FOUND"},
    ]
    assert client.get(f"/api/tickets/{foreign['id']}", token=org_b.agent.token).json["status"] == (
        "OPEN"
    )
    response = bulk(org.admin, action="assign", assigneeId=org.agent.id)
    assert [r["result"] for r in response.json["results"]] == ["ok"] * 3 + ["NOT_FOUND"] * 2
    assert bulk(org.admin, action="assign", assigneeId=org.requester.id).status == 400
    response = bulk(org.agent, action="add_tag", tag="outage")
    assert [r["result"] for r in response.json["results"]][:3] == ["ok"] * 3
    listed = client.get("/api/tickets?tag=outage", token=org.agent.token).json["items"]
    assert sorted(t["id"] for t in listed) == sorted(t["id"] for t in tickets)
    bulk(org.agent, action="remove_tag", tag="outage")
    assert client.get("/api/tickets?tag=outage", token=org.agent.token).json["items"] == []
    after = client.get(f"/api/tickets/{tickets[0]['id']}", token=org.agent.token).json
    assert (after["status"], after["assigneeId"], after["tags"]) == ("PENDING", org.agent.id, [])
    for body in (
        {"ids": [], "action": "set_status", "status": "OPEN"},
        {"ids": ["a" * 32] * 2, "action": "set_status", "status": "OPEN"},
        {"ids": [f"{i:032x}" for i in range(101)], "action": "set_status", "status": "OPEN"},
        {"ids": ["bad"], "action": "set_status", "status": "OPEN"},
        {"ids": ["a" * 32], "action": "delete"},
        {"ids": ["a" * 32], "action": "set_status", "status": "OPEN", "extra": 1},
    ):
        assert client.post("/api/tickets/bulk", json=body, token=org.agent.token).status == 400
    actions = _audit_actions(org.id)
    assert actions.count("ticket.bulk.set_status") == 1
    assert actions.count("ticket.bulk.assign") == 1
    assert actions.count("ticket.bulk.add_tag") == 1
    assert actions.count("ticket.bulk.remove_tag") == 1


def test_bulk_conflict_is_reported_per_id(client: Any, make_org: MakeOrg) -> None:
    from chalicelib.authz.principal import Principal
    from chalicelib.tickets import bulk, repository, schemas

    org = make_org()
    tickets = [create_ticket(client, org.requester) for _ in range(2)]
    principal = Principal(org.agent.id, org.id, Role.AGENT)
    real_read = repository.batch_get_tickets

    def read_then_concurrent_edit(*args: Any, **kwargs: Any) -> Any:
        result = real_read(*args, **kwargs)
        assert patch(client, org.admin, tickets[0], priority="LOW").status == 200
        return result

    request = schemas.BulkSetPriority(
        ids=[t["id"] for t in tickets], action="set_priority", priority="URGENT"
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(repository, "batch_get_tickets", read_then_concurrent_edit)
        results = bulk.bulk_update(principal, request)
    assert results == [
        {"id": tickets[0]["id"], "result": "CONFLICT"},
        {"id": tickets[1]["id"], "result": "ok"},
    ]
    first = client.get(f"/api/tickets/{tickets[0]['id']}", token=org.agent.token).json
    second = client.get(f"/api/tickets/{tickets[1]['id']}", token=org.agent.token).json
    assert (first["priority"], second["priority"]) == ("LOW", "URGENT")


def test_idempotent_creates(client: Any, make_org: MakeOrg) -> None:
    org = make_org()
    key = {"Idempotency-Key": "retry-key-0001"}
    body = {"subject": "Once", "body": "only once"}
    first = client.post("/api/tickets", json=body, token=org.requester.token, headers=key)
    again = client.post("/api/tickets", json=body, token=org.requester.token, headers=key)
    assert first.status == again.status == 201
    assert first.json == again.json
    other_user = client.post("/api/tickets", json=body, token=org.agent.token, headers=key)
    assert other_user.status == 201 and other_user.json["id"] != first.json["id"]
    changed = client.post(
        "/api/tickets", json={**body, "body": "different"}, token=org.requester.token, headers=key
    )
    assert changed.status == 409
    bad_key = client.post(
        "/api/tickets", json=body, token=org.requester.token, headers={"Idempotency-Key": "a b"}
    )
    assert bad_key.status == 400
    listed = client.get("/api/tickets", token=org.agent.token).json["items"]
    assert len(listed) == 2
    tid = first.json["id"]
    c1 = client.post(
        f"/api/tickets/{tid}/comments", json={"body": "hi"}, token=org.requester.token, headers=key
    )
    c2 = client.post(
        f"/api/tickets/{tid}/comments", json={"body": "hi"}, token=org.requester.token, headers=key
    )
    assert c1.status == c2.status == 201 and c1.json == c2.json
    comments = client.get(f"/api/tickets/{tid}/comments", token=org.agent.token).json["items"]
    assert len(comments) == 1
    assert _audit_actions(org.id).count("ticket.create") == 2


def test_every_ticket_route_is_in_the_policy(app: Any) -> None:
    from chalicelib.authz.policy import POLICY

    ticket_routes = {
        (method, path)
        for path, entry in app.routes.items()
        if path.startswith("/api/tickets") and "/attachments" not in path
        for method in entry
        if method != "OPTIONS"  # CORS preflights
    }
    assert len(ticket_routes) == 8
    assert ticket_routes <= set(POLICY)
