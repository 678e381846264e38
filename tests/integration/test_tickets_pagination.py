"""Cursor pagination over a seeded organization of 1,000 tickets, and cursor binding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.tickets import repository
from chalicelib.tickets.models import Priority, TagModel, new_id
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import ticket_item

SEEDED = 1000


def seed(org: TestOrg, count: int, requester: TestUser) -> list[str]:
    """Tickets written straight through the repository's batch writer (fast, not 1,000 calls)."""
    items: list[Any] = []
    ids: list[str] = []
    for i in range(count):
        ticket = ticket_item(
            org.id,
            requester.id,
            subject=f"seeded {i}",
            priority=Priority.ALL[i % 4],
            tags=["seed"] if i % 2 else [],
            ticket_id=new_id(),
        )
        ticket.version = 1
        items.append(ticket)
        items.extend(TagModel.for_ticket(org.id, ticket.ticket_id, t) for t in ticket.tags)
        ids.append(ticket.ticket_id)
    repository.put_tickets(items)
    return ids


def walk(client: Any, user: TestUser, query: str, limit: int) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.get(f"/api/tickets?limit={limit}{query}{suffix}", token=user.token)
        assert response.status == 200, response.body
        pages += 1
        seen += [item["id"] for item in response.json["items"]]
        cursor = response.json["nextCursor"]
        if cursor is None:
            return seen, pages


def test_every_ticket_exactly_once(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org, other = make_org(), make_org()
    ids = seed(org, SEEDED, org.requester)
    seed(other, 30, other.requester)

    seen, pages = walk(client, org.agent, "", 100)
    assert len(seen) == SEEDED and set(seen) == set(ids)
    assert seen == sorted(ids, reverse=True)  # newest first
    assert pages == 10


def test_filtered_walks_exactly_once(client: Any, make_org: Callable[..., TestOrg]) -> None:
    # Smaller org: moto's response serializer, not our code, makes big walks slow.
    org = make_org()
    ids = seed(org, 120, org.requester)
    others = seed(org, 20, org.add_user(org.requester.role))
    tagged, _ = walk(client, org.admin, "&tag=seed", 7)
    assert sorted(tagged) == sorted(ids[1::2] + others[1::2])
    high, _ = walk(client, org.agent, "&priority=HIGH", 9)
    assert sorted(high) == sorted(ids[2::4] + others[2::4])
    mine, pages = walk(client, org.requester, "&status=OPEN", 11)
    assert sorted(mine) == sorted(ids) and pages == 11


def test_cursor_is_bound_to_org_caller_and_query(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org_a, org_b = make_org(), make_org()
    seed(org_a, 5, org_a.requester)
    seed(org_b, 5, org_b.requester)
    page = client.get("/api/tickets?limit=2", token=org_a.agent.token).json
    cursor = page["nextCursor"]
    assert cursor

    def status(user: TestUser, query: str) -> int:
        response = client.get(f"/api/tickets?limit=2{query}", token=user.token)
        if response.status == 400:
            assert response.json["error"]["details"][0]["field"] == "cursor"
        return int(response.status)

    assert status(org_a.agent, f"&cursor={cursor}") == 200
    assert status(org_b.agent, f"&cursor={cursor}") == 400  # another organization
    assert status(org_b.admin, f"&cursor={cursor}") == 400
    assert status(org_a.admin, f"&cursor={cursor}") == 400  # another caller
    assert status(org_a.agent, f"&cursor={cursor}&priority=LOW") == 400  # another query
    payload, signature = cursor.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + signature
    assert status(org_a.agent, f"&cursor={forged}") == 400
    assert status(org_a.agent, "&cursor=garbage") == 400
