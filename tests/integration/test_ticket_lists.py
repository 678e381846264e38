"""Ticket lists: full pages after filtering, multi-value filters, sort, `assigneeId=me`,
`updatedSince`, and the bound on DynamoDB reads per page."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.core.keyed import unsign
from chalicelib.tickets import repository
from chalicelib.tickets.models import PRIORITY_RANK, Priority, Status, TagModel, new_id
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import ticket_item


def seed(
    org: TestOrg, count: int, rng: random.Random, requesters: list[TestUser], assignees: list[str]
) -> list[Any]:
    """`count` tickets with random status, priority, requester, assignee, tag and update time."""
    items: list[Any] = []
    tickets: list[Any] = []
    for i in range(count):
        updated = (
            f"2025-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:00:00.000+00:00"
        )
        ticket = ticket_item(
            org.id,
            rng.choice(requesters).id,
            subject=f"seeded {i}",
            priority=rng.choice(Priority.ALL),
            tags=["vip"] if rng.random() < 0.2 else [],
            ticket_id=new_id(),
            now="2025-01-01T00:00:00.000+00:00",
        )
        ticket.status = rng.choice(Status.ALL)
        ticket.assignee_id = rng.choice([*assignees, None])
        ticket.updated_at = updated
        ticket.version = 1
        ticket.set_index_keys()
        tickets.append(ticket)
        items.append(ticket)
        items.extend(TagModel.for_ticket(org.id, ticket.ticket_id, t) for t in ticket.tags)
    repository.put_tickets(items)
    return tickets


def walk(client: Any, user: TestUser, query: str, limit: int) -> list[list[dict[str, Any]]]:
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.get(f"/api/tickets?limit={limit}{query}{suffix}", token=user.token)
        assert response.status == 200, response.body
        pages.append(response.json["items"])
        cursor = response.json["nextCursor"]
        if cursor is None:
            return pages
        assert len(pages) < 500


def order_key(sort: str) -> Callable[[Any], Any]:
    field = sort.lstrip("-")
    if field == "updatedAt":
        return lambda t: (t.updated_at, t.ticket_id)
    if field == "priority":
        return lambda t: (PRIORITY_RANK[t.priority], t.ticket_id)
    return lambda t: t.ticket_id


def check_walk(pages: list[list[dict[str, Any]]], expected: list[Any], limit: int) -> None:
    """Every match exactly once, in order, and every page but the last full."""
    seen = [item["id"] for page in pages for item in page]
    assert seen == [t.ticket_id for t in expected]
    for page in pages[:-1]:
        assert len(page) == limit, [len(p) for p in pages]


def test_multi_value_filters_sort_and_full_pages(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    rng = random.Random(7)
    tickets = seed(org, 300, rng, [org.requester], [org.agent.id, org.admin.id])
    cases = [
        ("&status=OPEN&priority=URGENT", "-createdAt"),
        ("&status=OPEN,PENDING", "updatedAt"),
        ("&priority=HIGH,URGENT&status=RESOLVED", "-priority"),
        ("&assigneeId=me", "-updatedAt"),
        ("&tag=vip&status=CLOSED,OPEN", "-createdAt"),
        ("&tag=vip", "priority"),
    ]
    for query, sort in cases:
        params = dict(part.split("=") for part in query.strip("&").split("&"))

        def wanted(t: Any, params: dict[str, str] = params) -> bool:
            return (
                ("status" not in params or t.status in params["status"].split(","))
                and ("priority" not in params or t.priority in params["priority"].split(","))
                and ("assigneeId" not in params or t.assignee_id == org.agent.id)
                and ("tag" not in params or params["tag"] in t.tags)
            )

        expected = sorted(
            filter(wanted, tickets), key=order_key(sort), reverse=sort.startswith("-")
        )
        assert expected, query
        pages = walk(client, org.agent, f"{query}&sort={sort}", 7)
        check_walk(pages, expected, 7)


def test_updated_since_is_an_incremental_sync(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    tickets = seed(org, 80, random.Random(3), [org.requester], [org.agent.id])
    since = "2025-05-01T00:00:00%2B00:00"
    expected = sorted(
        (t for t in tickets if t.updated_at >= "2025-05-01T00:00:00.000+00:00"),
        key=order_key("updatedAt"),
    )
    check_walk(walk(client, org.agent, f"&sort=updatedAt&updatedSince={since}", 9), expected, 9)
    # Another offset and `Z` are the same instant.
    same = walk(client, org.agent, "&sort=updatedAt&updatedSince=2025-05-01T02:00:00%2B02:00", 9)
    check_walk(same, expected, 9)
    # Combined with another sort it is a filter, same set.
    by_priority = walk(client, org.agent, "&sort=-priority&updatedSince=2025-05-01T00:00:00Z", 9)
    assert sorted(i["id"] for p in by_priority for i in p) == sorted(t.ticket_id for t in expected)


@pytest.mark.parametrize(
    "query",
    [
        "status=OPEN,OPEN",
        "status=open",
        "status=OPEN,",
        "priority=HIGH;LOW",
        "sort=subject",
        "assigneeId=you",
        "updatedSince=yesterday",
        "updatedSince=2025-01-01T00:00:00",  # no time zone
    ],
)
def test_bad_list_parameters_are_400(
    client: Any, make_org: Callable[..., TestOrg], query: str
) -> None:
    org = make_org()
    response = client.get(f"/api/tickets?{query}", token=org.agent.token)
    assert response.status == 400, response.body
    assert response.json["error"]["details"][0]["field"] == query.split("=", maxsplit=1)[0]


def test_a_page_that_reaches_the_read_bound_is_short_but_resumes_exactly(
    client: Any, make_org: Callable[..., TestOrg], monkeypatch: pytest.MonkeyPatch
) -> None:
    # With 6 items per read and 5 reads per page, a rare match needs several pages; the short
    # pages carry a cursor, nothing is skipped or repeated.
    monkeypatch.setattr(repository, "FILTERED_READ", 1)
    org = make_org()
    tickets = seed(org, 120, random.Random(11), [org.requester], [org.agent.id])
    rare = sorted(
        (t for t in tickets if t.status == "OPEN" and t.priority == "URGENT"),
        key=order_key("updatedAt"),
        reverse=True,
    )
    calls: list[int] = []
    real = repository.fill_ticket_page

    def counting(*args: Any, **kwargs: Any) -> Any:
        page = real(*args, **kwargs)
        calls.append(page.queries)
        return page

    monkeypatch.setattr(repository, "fill_ticket_page", counting)
    pages = walk(client, org.agent, "&status=OPEN&priority=URGENT&sort=-updatedAt", 5)
    assert [i["id"] for p in pages for i in p] == [t.ticket_id for t in rare]
    assert max(calls) == repository.MAX_QUERIES_PER_PAGE
    assert any(len(page) < 5 for page in pages[:-1])  # the bound was reached, honestly


def test_requester_pages_and_cursors_ignore_other_requesters(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    rng = random.Random(5)
    seed(org, 60, rng, [org.requester], [org.agent.id])
    queries = ["", "&tag=vip", f"&assigneeId={org.agent.id}", "&status=OPEN,PENDING&sort=updatedAt"]

    def observe() -> list[Any]:
        seen = []
        for query in queries:
            cursor = None
            while True:
                suffix = f"&cursor={cursor}" if cursor else ""
                body = client.get(
                    f"/api/tickets?limit=4{query}{suffix}", token=org.requester.token
                ).json
                position = None
                if body["nextCursor"]:
                    position = json.loads(unsign("cursor", body["nextCursor"]) or b"")["p"]
                seen.append((query, [i["id"] for i in body["items"]], position))
                cursor = body["nextCursor"]
                if cursor is None:
                    break
        return seen

    before = observe()
    other = org.add_user(org.requester.role)
    seed(org, 400, rng, [other], [org.agent.id])  # many matches for every filter above
    assert observe() == before
