"""Attacks on ticket merging: reaching across organizations through `intoId` or the path,
requesters merging, API tokens without the write scope. Every refusal leaves both tickets as
they were."""

from __future__ import annotations

from typing import Any

from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk
from tests.support.orgs import TestOrg, TestUser, mint_api_token
from tests.support.tickets import comment, create_ticket


def _merge(client: Any, token: str, source_id: str, into_id: str, version: int = 1) -> Any:
    return client.post(
        f"/api/tickets/{source_id}/merge",
        json={"intoId": into_id},
        token=token,
        headers={"If-Match": f'"{version}"'},
    )


def _unchanged(org: TestOrg, ticket_id: str) -> bool:
    item = TicketModel.get(ticket_pk(org.id, ticket_id), TICKET_SK, consistent_read=True)
    return (item.status, item.merged_into, item.merged_from, int(item.version)) == (
        "OPEN",
        None,
        None,
        1,
    )


def test_merge_into_a_foreign_ticket_is_the_404_of_a_missing_one(
    client: Any, make_org: Any
) -> None:
    org, other = make_org(), make_org()
    source = create_ticket(client, org.requester)
    foreign = create_ticket(client, other.requester, subject="Foreign secret subject")

    into_foreign = _merge(client, org.agent.token, source["id"], foreign["id"])
    into_missing = _merge(client, org.agent.token, source["id"], "f" * 32)

    assert (into_foreign.status, into_missing.status) == (404, 404)
    assert into_foreign.json == into_missing.json
    assert (
        foreign["id"] not in into_foreign.body.decode()
        and other.id not in into_foreign.body.decode()
    )
    assert _unchanged(org, source["id"]) and _unchanged(other, foreign["id"])


def test_merge_of_a_foreign_ticket_is_404(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    own = create_ticket(client, org.requester)
    foreign = create_ticket(client, other.requester)

    # The attacker names the foreign ticket as the source, and as the target of its own admin.
    response = _merge(client, org.admin.token, foreign["id"], own["id"])

    assert response.status == 404
    assert foreign["id"] not in response.body.decode()
    assert _unchanged(org, own["id"]) and _unchanged(other, foreign["id"])


def test_requester_cannot_merge_even_their_own_tickets(client: Any, make_org: Any) -> None:
    org = make_org()
    first = create_ticket(client, org.requester)
    second = create_ticket(client, org.requester)
    full_token = mint_api_token(org.requester, ["tickets:write", "tickets:read"])

    for token in (org.requester.token, full_token):
        response = _merge(client, token, first["id"], second["id"])
        assert response.status == 403, response.body
    assert _unchanged(org, first["id"]) and _unchanged(org, second["id"])


def test_requester_cannot_pull_another_requesters_conversation(client: Any, make_org: Any) -> None:
    """Merging is what would expose one requester's conversation to another; a requester asking
    for it to land on their own ticket is refused before any ticket is read."""
    org = make_org()
    victim: TestUser = org.add_user(org.requester.role)
    theirs = create_ticket(client, victim, subject="Private")
    assert comment(client, victim, theirs["id"], "my private details").status == 201
    mine = create_ticket(client, org.requester)

    response = _merge(client, org.requester.token, theirs["id"], mine["id"], version=2)

    assert response.status == 403
    listed = client.get(f"/api/tickets/{mine['id']}/comments", token=org.requester.token)
    assert "my private details" not in listed.body.decode()


def test_api_token_without_the_write_scope_cannot_merge(client: Any, make_org: Any) -> None:
    org = make_org()
    source = create_ticket(client, org.requester)
    target = create_ticket(client, org.requester)
    read_only = mint_api_token(org.agent, ["tickets:read", "comments:write"])
    writer = mint_api_token(org.agent, ["tickets:write"])

    refused = _merge(client, read_only, source["id"], target["id"])
    assert refused.status == 403
    assert "tickets:write" in refused.json["error"]["message"]
    assert _unchanged(org, source["id"]) and _unchanged(org, target["id"])

    allowed = _merge(client, writer, source["id"], target["id"])
    assert allowed.status == 200, allowed.body
    assert allowed.json["mergedFrom"] == [source["id"]]
