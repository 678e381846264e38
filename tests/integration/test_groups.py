"""Agent groups: the admin routes, the ticket's `groupId`, assignment within a group, and the
`groupId` list filter."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.audit.models import AuditRecordModel
from chalicelib.authz.principal import Role
from chalicelib.core.org_keys import org_pk
from tests.support.tickets import create_ticket, patch


def _audit(org_id: str, action: str, target_id: str) -> list[dict[str, Any]]:
    return [
        {"actor": record.actor_id, **json.loads(record.details)}
        for record in AuditRecordModel.query(org_pk(org_id), AuditRecordModel.sk.startswith("REC#"))
        if record.action == action and record.target_id == target_id
    ]


def _group(client: Any, org: Any, name: str = "Tier 1", members: list[str] | None = None) -> Any:
    created = client.post("/api/admin/groups", json={"name": name}, token=org.admin.token)
    assert created.status == 201, created.body
    group = created.json
    if members is not None:
        response = client.put(
            f"/api/admin/groups/{group['id']}/members",
            json={"userIds": members},
            token=org.admin.token,
        )
        assert response.status == 200, response.body
        group = response.json
    return group


def test_admins_create_read_and_list_groups(client: Any, make_org: Any) -> None:
    org = make_org()
    created = client.post(
        "/api/admin/groups",
        json={"name": "Billing", "description": "Invoices and refunds"},
        token=org.admin.token,
    )
    assert created.status == 201, created.body
    group = created.json
    assert group["name"] == "Billing" and group["description"] == "Invoices and refunds"
    assert group["archived"] is False and group["memberIds"] == [] and group["version"] == 1
    assert created.headers["ETag"] == '"1"'
    read = client.get(f"/api/admin/groups/{group['id']}", token=org.admin.token)
    assert read.status == 200 and read.json == group
    listed = client.get("/api/admin/groups", token=org.admin.token).json
    assert [g["id"] for g in listed["items"]] == [group["id"]]
    assert _audit(org.id, "group.create", group["id"])[0]["actor"] == org.admin.id


def test_a_taken_name_is_a_conflict(client: Any, make_org: Any) -> None:
    org = make_org()
    _group(client, org, "Tier 1")
    again = client.post("/api/admin/groups", json={"name": "Tier 1"}, token=org.admin.token)
    assert again.status == 409


def test_agents_and_requesters_cannot_manage_groups(client: Any, make_org: Any) -> None:
    org = make_org()
    for user in (org.agent, org.requester):
        response = client.post("/api/admin/groups", json={"name": "X"}, token=user.token)
        assert response.status == 403
        assert client.get("/api/admin/groups", token=user.token).status == 403


def test_rename_archive_unarchive_and_the_archived_filter(client: Any, make_org: Any) -> None:
    org = make_org()
    active = _group(client, org, "Active")
    old = _group(client, org, "Old")
    url = f"/api/admin/groups/{old['id']}"
    renamed = client.patch(url, json={"name": "Legacy"}, token=org.admin.token)
    assert renamed.status == 200 and renamed.json["name"] == "Legacy"
    stale = client.patch(
        url, json={"archived": True}, token=org.admin.token, headers={"If-Match": '"1"'}
    )
    assert stale.status == 409
    archived = client.patch(
        url, json={"archived": True}, token=org.admin.token, headers={"If-Match": '"2"'}
    )
    assert archived.status == 200 and archived.json["archived"] is True
    assert len(_audit(org.id, "group.archive", old["id"])) == 1
    assert len(_audit(org.id, "group.update", old["id"])) == 1

    def ids(query: str) -> list[str]:
        body = client.get(f"/api/admin/groups{query}", token=org.admin.token).json
        return [g["id"] for g in body["items"]]

    assert ids("?archived=true") == [old["id"]]
    assert ids("?archived=false") == [active["id"]]
    assert ids("") == [active["id"], old["id"]]
    back = client.patch(url, json={"archived": False}, token=org.admin.token)
    assert back.status == 200 and back.json["archived"] is False
    assert len(_audit(org.id, "group.unarchive", old["id"])) == 1


def test_group_list_pages_are_full(client: Any, make_org: Any) -> None:
    org = make_org()
    made = [_group(client, org, f"G{n}")["id"] for n in range(5)]
    first = client.get("/api/admin/groups?limit=2", token=org.admin.token).json
    assert [g["id"] for g in first["items"]] == made[:2]
    second = client.get(
        f"/api/admin/groups?limit=2&cursor={first['nextCursor']}", token=org.admin.token
    ).json
    third = client.get(
        f"/api/admin/groups?limit=2&cursor={second['nextCursor']}", token=org.admin.token
    ).json
    assert [g["id"] for g in second["items"]] == made[2:4]
    assert [g["id"] for g in third["items"]] == made[4:] and third["nextCursor"] is None


def test_members_are_active_staff_of_the_organization(client: Any, make_org: Any) -> None:
    org = make_org()
    group = _group(client, org)
    url = f"/api/admin/groups/{group['id']}/members"
    ok = client.put(url, json={"userIds": [org.agent.id, org.admin.id]}, token=org.admin.token)
    assert ok.status == 200, ok.body
    assert ok.json["memberIds"] == [org.agent.id, org.admin.id]
    [record] = _audit(org.id, "group.members", group["id"])
    assert record["after"]["memberIds"] == [org.agent.id, org.admin.id]
    refused = client.put(
        url, json={"userIds": [org.agent.id, org.requester.id]}, token=org.admin.token
    )
    assert refused.status == 400
    error = refused.json["error"]
    assert "active agents or admins" in error["message"]
    assert error["details"] == [
        {"field": "userIds[1]", "message": "is not an active agent or admin"}
    ]
    unknown = client.put(url, json={"userIds": ["f" * 32]}, token=org.admin.token)
    assert unknown.status == 400 and unknown.json["error"]["details"][0]["field"] == "userIds[0]"
    still = client.get(f"/api/admin/groups/{group['id']}", token=org.admin.token).json
    assert still["memberIds"] == [org.agent.id, org.admin.id]


def test_tickets_take_an_active_group_of_the_organization(client: Any, make_org: Any) -> None:
    org = make_org()
    group = _group(client, org)
    ticket = create_ticket(client, org.agent, groupId=group["id"])
    assert ticket["groupId"] == group["id"]
    assert _audit(org.id, "ticket.create", ticket["id"])[0]["after"]["groupId"] == group["id"]
    # A requester cannot choose a group.
    refused = client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "groupId": group["id"]},
        token=org.requester.token,
    )
    assert refused.status == 403
    # An archived group takes no new tickets, like an unknown id.
    client.patch(f"/api/admin/groups/{group['id']}", json={"archived": True}, token=org.admin.token)
    archived = client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "groupId": group["id"]},
        token=org.agent.token,
    )
    unknown = client.post(
        "/api/tickets",
        json={"subject": "s", "body": "b", "groupId": "a" * 32},
        token=org.agent.token,
    )
    assert archived.status == unknown.status == 400
    assert archived.json == unknown.json
    assert archived.json["error"]["details"][0]["field"] == "groupId"


def test_patching_the_group_of_a_ticket(client: Any, make_org: Any) -> None:
    org = make_org()
    group = _group(client, org)
    ticket = create_ticket(client, org.requester)
    moved = patch(client, org.agent, ticket, groupId=group["id"])
    assert moved.status == 200 and moved.json["groupId"] == group["id"]
    assert len(_audit(org.id, "ticket.group_change", ticket["id"])) == 1
    by_requester = patch(client, org.requester, moved.json, groupId=None)
    assert by_requester.status == 403
    cleared = patch(client, org.agent, moved.json, groupId=None)
    assert cleared.status == 200 and cleared.json["groupId"] is None


def test_a_grouped_ticket_is_assigned_only_to_a_member(client: Any, make_org: Any) -> None:
    org = make_org()
    other_agent = org.add_user(Role.AGENT)
    group = _group(client, org, members=[org.agent.id])
    ticket = create_ticket(client, org.requester)
    ticket = patch(client, org.agent, ticket, groupId=group["id"]).json
    refused = patch(client, org.agent, ticket, assigneeId=other_agent.id)
    assert refused.status == 400
    assert "member of that group" in refused.json["error"]["message"]
    assert refused.json["error"]["details"][0]["field"] == "assigneeId"
    assigned = patch(client, org.agent, ticket, assigneeId=org.agent.id)
    assert assigned.status == 200 and assigned.json["assigneeId"] == org.agent.id


def test_a_group_must_include_the_current_assignee(client: Any, make_org: Any) -> None:
    org = make_org()
    tier1 = _group(client, org, "Tier 1", members=[org.agent.id])
    tier2 = _group(client, org, "Tier 2", members=[org.admin.id])
    ticket = create_ticket(client, org.requester)
    ticket = patch(client, org.agent, ticket, assigneeId=org.agent.id).json
    refused = patch(client, org.agent, ticket, groupId=tier2["id"])
    assert refused.status == 400
    assert "unassign or reassign" in refused.json["error"]["message"]
    # Moving and reassigning in one change is fine.
    both = patch(client, org.agent, ticket, groupId=tier2["id"], assigneeId=org.admin.id)
    assert both.status == 200, both.body
    assert (both.json["groupId"], both.json["assigneeId"]) == (tier2["id"], org.admin.id)
    # Membership removed later: a new assignment is checked against the current members.
    client.put(
        f"/api/admin/groups/{tier1['id']}/members", json={"userIds": []}, token=org.admin.token
    )
    other = create_ticket(client, org.agent, groupId=tier1["id"])
    assert patch(client, org.agent, other, assigneeId=org.agent.id).status == 400


def test_bulk_assignment_follows_the_group_rule(client: Any, make_org: Any) -> None:
    org = make_org()
    group = _group(client, org, members=[org.admin.id])
    grouped = create_ticket(client, org.agent, groupId=group["id"])
    free = create_ticket(client, org.agent)
    response = client.post(
        "/api/tickets/bulk",
        json={"action": "assign", "ids": [grouped["id"], free["id"]], "assigneeId": org.agent.id},
        token=org.agent.token,
    )
    assert response.status == 200, response.body
    assert response.json["results"] == [
        {"id": grouped["id"], "result": "CONFLICT"},
        {"id": free["id"], "result": "ok"},
    ]
    stored = client.get(f"/api/tickets/{grouped['id']}", token=org.agent.token).json
    assert stored["assigneeId"] is None


def test_bulk_assignment_rechecks_membership_at_commit(
    client: Any, make_org: Any, monkeypatch: Any
) -> None:
    """A membership read before a concurrent removal does not let the assignment through: the
    transaction conditions on the group item, so only that group's tickets conflict."""
    from chalicelib.tickets import bulk

    org = make_org()
    left = _group(client, org, "Left", members=[org.admin.id])  # the agent was just removed
    stays = _group(client, org, "Stays", members=[org.agent.id])
    stale = create_ticket(client, org.agent, groupId=left["id"])
    fine = create_ticket(client, org.agent, groupId=stays["id"])
    free = create_ticket(client, org.agent)
    monkeypatch.setattr(
        bulk,
        "_group_members",
        lambda *_: {left["id"]: {org.agent.id}, stays["id"]: {org.agent.id}},
    )
    response = client.post(
        "/api/tickets/bulk",
        json={
            "action": "assign",
            "ids": [stale["id"], fine["id"], free["id"]],
            "assigneeId": org.agent.id,
        },
        token=org.agent.token,
    )
    assert response.status == 200, response.body
    assert response.json["results"] == [
        {"id": stale["id"], "result": "CONFLICT"},
        {"id": fine["id"], "result": "ok"},
        {"id": free["id"], "result": "ok"},
    ]
    assignees = {
        t["id"]: client.get(f"/api/tickets/{t['id']}", token=org.agent.token).json["assigneeId"]
        for t in (stale, fine, free)
    }
    assert assignees == {stale["id"]: None, fine["id"]: org.agent.id, free["id"]: org.agent.id}


def test_lists_filter_by_group_and_by_mine(client: Any, make_org: Any) -> None:
    org = make_org()
    mine = _group(client, org, "Mine", members=[org.agent.id])
    theirs = _group(client, org, "Theirs", members=[org.admin.id])
    in_mine = [create_ticket(client, org.agent, groupId=mine["id"])["id"] for _ in range(3)]
    in_theirs = create_ticket(client, org.agent, groupId=theirs["id"])["id"]
    create_ticket(client, org.agent)  # ungrouped

    def ids(user: Any, query: str) -> list[str]:
        response = client.get(f"/api/tickets?{query}", token=user.token)
        assert response.status == 200, response.body
        return [t["id"] for t in response.json["items"]]

    assert ids(org.agent, f"groupId={theirs['id']}") == [in_theirs]
    assert ids(org.agent, "groupId=mine") == in_mine[::-1]
    assert ids(org.admin, "groupId=mine") == [in_theirs]
    other_agent = org.add_user(Role.AGENT)
    assert ids(other_agent, "groupId=mine") == []
    # Combined with other filters, and pages full while matches remain.
    patch(client, org.agent, {"id": in_mine[0], "version": 1}, status="PENDING")
    assert ids(org.agent, "groupId=mine&status=OPEN") == in_mine[:0:-1]
    first = client.get("/api/tickets?groupId=mine&limit=2", token=org.agent.token).json
    assert [t["id"] for t in first["items"]] == in_mine[:0:-1]
    rest = client.get(
        f"/api/tickets?groupId=mine&limit=2&cursor={first['nextCursor']}", token=org.agent.token
    ).json
    assert [t["id"] for t in rest["items"]] == [in_mine[0]]


def test_agents_limited_to_their_groups_see_only_those_tickets(client: Any, make_org: Any) -> None:
    org = make_org()
    outsider = org.add_user(Role.AGENT)
    mine = _group(client, org, "Mine", members=[org.agent.id])
    theirs = _group(client, org, "Theirs", members=[outsider.id])
    in_mine = create_ticket(client, org.requester)
    in_mine = patch(client, org.admin, in_mine, groupId=mine["id"]).json
    in_theirs = create_ticket(client, org.requester)
    in_theirs = patch(client, org.admin, in_theirs, groupId=theirs["id"]).json
    assigned = create_ticket(client, org.requester)
    assigned = patch(client, org.admin, assigned, groupId=theirs["id"]).json
    assigned = patch(client, org.admin, assigned, assigneeId=outsider.id).json
    ungrouped = create_ticket(client, org.requester)
    settings = client.patch(
        "/api/admin/settings", json={"agentTicketVisibility": "groups"}, token=org.admin.token
    )
    assert settings.status == 200 and settings.json == {"agentTicketVisibility": "groups"}
    assert len(_audit(org.id, "org.settings", org.id)) == 1

    def ids(user: Any) -> set[str]:
        return {t["id"] for t in client.get("/api/tickets", token=user.token).json["items"]}

    assert ids(org.agent) == {in_mine["id"], ungrouped["id"]}
    assert ids(outsider) == {in_theirs["id"], assigned["id"], ungrouped["id"]}
    assert ids(org.admin) == {in_mine["id"], in_theirs["id"], assigned["id"], ungrouped["id"]}
    hidden = f"/api/tickets/{in_theirs['id']}"
    assert client.get(hidden, token=org.agent.token).status == 404
    comment = client.post(f"{hidden}/comments", json={"body": "x"}, token=org.agent.token)
    assert comment.status == 404
    assert client.get(f"{hidden}/comments", token=org.agent.token).status == 404
    # Merging reads both tickets as the caller may: a hidden one is missing, either way round.
    for source, target in ((in_theirs, in_mine), (in_mine, in_theirs)):
        merged = client.post(
            f"/api/tickets/{source['id']}/merge",
            json={"intoId": target["id"]},
            token=org.agent.token,
            headers={"If-Match": str(source["version"])},
        )
        assert merged.status == 404, merged.body
    assert client.get(hidden, token=outsider.token).status == 200
    # Back to the default: every agent sees every ticket.
    client.patch(
        "/api/admin/settings",
        json={"agentTicketVisibility": "organization"},
        token=org.admin.token,
    )
    assert client.get(hidden, token=org.agent.token).status == 200
