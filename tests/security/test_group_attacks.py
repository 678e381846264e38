"""Another organization's groups and users, named by id: every answer is the one an id that
exists nowhere gets, and nothing of the other organization changes."""

from __future__ import annotations

from typing import Any

from tests.support.tickets import create_ticket, patch

NOWHERE = "0" * 32


def _group(client: Any, org: Any) -> dict[str, Any]:
    made = client.post("/api/admin/groups", json={"name": "Theirs"}, token=org.admin.token)
    assert made.status == 201, made.body
    group: dict[str, Any] = made.json
    return group


def test_a_ticket_in_another_organizations_group_is_refused_like_no_group(
    client: Any, make_org: Any
) -> None:
    us, them = make_org(), make_org()
    theirs = _group(client, them)
    body = {"subject": "s", "body": "b"}
    foreign = client.post(
        "/api/tickets", json={**body, "groupId": theirs["id"]}, token=us.agent.token
    )
    nowhere = client.post("/api/tickets", json={**body, "groupId": NOWHERE}, token=us.agent.token)
    assert foreign.status == nowhere.status == 400
    assert foreign.json == nowhere.json
    ticket = create_ticket(client, us.agent)
    moved = patch(client, us.agent, ticket, groupId=theirs["id"])
    nowhere_patch = patch(client, us.agent, ticket, groupId=NOWHERE)
    assert moved.status == nowhere_patch.status == 400
    assert moved.json == nowhere_patch.json


def test_another_organizations_user_cannot_become_a_member(client: Any, make_org: Any) -> None:
    us, them = make_org(), make_org()
    ours = _group(client, us)
    url = f"/api/admin/groups/{ours['id']}/members"
    foreign = client.put(url, json={"userIds": [them.agent.id]}, token=us.admin.token)
    nowhere = client.put(url, json={"userIds": [NOWHERE]}, token=us.admin.token)
    assert foreign.status == nowhere.status == 400
    assert foreign.json == nowhere.json
    stored = client.get(f"/api/admin/groups/{ours['id']}", token=us.admin.token).json
    assert stored["memberIds"] == []


def test_another_organizations_group_cannot_be_read_or_changed(client: Any, make_org: Any) -> None:
    us, them = make_org(), make_org()
    theirs = _group(client, them)
    for group_id in (theirs["id"], NOWHERE):
        url = f"/api/admin/groups/{group_id}"
        answers = [
            client.get(url, token=us.admin.token),
            client.patch(url, json={"archived": True}, token=us.admin.token),
            client.put(f"{url}/members", json={"userIds": [us.agent.id]}, token=us.admin.token),
        ]
        assert [a.status for a in answers] == [404, 404, 404]
        assert answers[0].json == answers[1].json == answers[2].json
    unchanged = client.get(f"/api/admin/groups/{theirs['id']}", token=them.admin.token).json
    assert unchanged == theirs
    listed = client.get("/api/admin/groups", token=us.admin.token).json
    assert listed["items"] == []


def test_listing_by_another_organizations_group_finds_nothing(client: Any, make_org: Any) -> None:
    us, them = make_org(), make_org()
    theirs = _group(client, them)
    create_ticket(client, them.agent, groupId=theirs["id"])
    create_ticket(client, us.agent)
    response = client.get(f"/api/tickets?groupId={theirs['id']}", token=us.agent.token)
    assert response.status == 200 and response.json["items"] == []
