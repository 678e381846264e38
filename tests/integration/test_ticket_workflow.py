"""Replies and the ticket workflow: reopen on a requester's reply, closed tickets point to a
follow-up, comments move `updatedAt`, the first public staff reply sets `firstRespondedAt`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.orgs import TestOrg
from tests.support.tickets import comment, create_ticket, patch


def _set_status(client: Any, org: TestOrg, ticket: dict[str, Any], status: str) -> dict[str, Any]:
    response = patch(client, org.agent, ticket, status=status)
    assert response.status == 200, response.body
    return dict(response.json)


def _get(client: Any, org: TestOrg, ticket_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/tickets/{ticket_id}", token=org.agent.token).json)


def test_requester_reply_reopens_a_resolved_ticket(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket = _set_status(client, org, create_ticket(client, org.requester), "RESOLVED")
    assert comment(client, org.requester, ticket["id"], "still broken").status == 201
    after = _get(client, org, ticket["id"])
    assert after["status"] == "OPEN" and after["version"] == ticket["version"] + 1
    listed = client.get("/api/tickets?status=OPEN", token=org.agent.token).json["items"]
    assert ticket["id"] in [t["id"] for t in listed]  # the status index moved too
    # A staff reply on a resolved ticket does not reopen it.
    resolved = _set_status(client, org, after, "RESOLVED")
    assert comment(client, org.agent, ticket["id"], "glad it works").status == 201
    assert _get(client, org, resolved["id"])["status"] == "RESOLVED"


def test_reply_on_a_closed_ticket_names_the_follow_up(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket = _set_status(client, org, create_ticket(client, org.requester), "CLOSED")
    refused = comment(client, org.requester, ticket["id"], "again!")
    assert refused.status == 409
    message = refused.json["error"]["message"]
    assert "followUpOf" in message and ticket["id"] in message
    assert _get(client, org, ticket["id"])["version"] == ticket["version"]  # nothing written
    listed = client.get(f"/api/tickets/{ticket['id']}/comments", token=org.agent.token).json
    assert listed["items"] == []

    follow_up = create_ticket(client, org.requester, followUpOf=ticket["id"])
    assert follow_up["followUpOf"] == ticket["id"]
    assert _get(client, org, follow_up["id"])["followUpOf"] == ticket["id"]


def test_follow_up_of_a_ticket_the_caller_cannot_see_is_refused(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org, other_org = make_org(), make_org()
    neighbour = org.add_user(org.requester.role)
    theirs = create_ticket(client, neighbour)
    foreign = create_ticket(client, other_org.requester)
    for target in (theirs["id"], foreign["id"], "0" * 32):
        response = client.post(
            "/api/tickets",
            json={"subject": "s", "body": "b", "followUpOf": target},
            token=org.requester.token,
        )
        assert response.status == 400, response.body
        assert response.json["error"]["details"] == [
            {"field": "followUpOf", "message": "must be a ticket you can see"}
        ]


def test_comments_update_updated_at_and_first_response(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester)
    assert ticket["firstRespondedAt"] is None
    comment(client, org.requester, ticket["id"], "more detail")
    first = _get(client, org, ticket["id"])
    assert first["updatedAt"] > ticket["updatedAt"] and first["firstRespondedAt"] is None
    comment(client, org.agent, ticket["id"], "looking", internal=True)  # a note is no response
    assert _get(client, org, ticket["id"])["firstRespondedAt"] is None
    reply = comment(client, org.agent, ticket["id"], "on it").json
    responded = _get(client, org, ticket["id"])
    assert responded["firstRespondedAt"] == reply["createdAt"]
    comment(client, org.admin, ticket["id"], "fixed")
    later = _get(client, org, ticket["id"])
    assert (
        later["firstRespondedAt"] == reply["createdAt"]
        and later["updatedAt"] > responded["updatedAt"]
    )
    newest = client.get("/api/tickets?sort=-updatedAt&limit=1", token=org.agent.token).json
    assert newest["items"][0]["id"] == ticket["id"]


def test_a_patch_with_the_version_read_before_a_comment_is_a_409(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket = _set_status(client, org, create_ticket(client, org.requester), "RESOLVED")
    comment(client, org.requester, ticket["id"], "not fixed")  # reopens
    stale = patch(client, org.agent, ticket, status="CLOSED")
    assert stale.status == 409
    assert _get(client, org, ticket["id"])["status"] == "OPEN"
