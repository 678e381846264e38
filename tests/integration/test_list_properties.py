"""Property test of ticket lists and search over one organization of 2,000 tickets.

For random combinations of filters (status, priority, assignee incl. `me`, requester, tag,
updatedSince), sort, search text and page size, walking the pages with `nextCursor` returns
exactly the matching tickets (computed here from the seeded data, not through the list code),
each once, in the requested order; a page is short while matches remain only when it used up
the bound on DynamoDB reads per page. A requester's pages and cursor positions are the same as in
an organization holding nothing but that requester's tickets.

The organization is seeded once (batch writes of ticket, tag and search-term items, as the
service stores them) and every hypothesis example walks it inside the test's mocked account.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.authz.principal import Role
from chalicelib.core.keyed import unsign
from chalicelib.tickets import repository
from chalicelib.tickets.models import (
    PRIORITY_RANK,
    Priority,
    Status,
    TagModel,
    TermModel,
    TicketModel,
)
from chalicelib.tickets.search_terms import text_terms
from tests.support.orgs import TestOrg, TestUser

SEEDED = 2000
TAGS = ("billing", "hardware", "network", "vip")
WORDS = ("vpn", "disk", "mail", "fan", "dock")
SEARCHES = {
    "vpn": ("vpn",),
    "vpn disk": ("vpn", "disk"),
    "di*": ("di*",),
    "mail fan": ("mail", "fan"),
}
BASE = datetime(2025, 1, 1, tzinfo=UTC)
MAX_PAGES = 6


@dataclasses.dataclass(frozen=True)
class Seeded:
    """What a seeded ticket is, kept apart from the items written."""

    id: str
    requester: str
    assignee: str | None
    status: str
    priority: str
    tags: tuple[str, ...]
    updated_at: str
    words: tuple[str, ...]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def _seed(
    org_id: str,
    tickets: list[Seeded],
    requester_of: Callable[[Seeded], str] = lambda t: t.requester,
) -> None:
    items: list[Any] = []
    for t in tickets:
        created = datetime.fromtimestamp(int(t.id[:12], 16) / 1000, UTC)
        subject = " ".join(t.words)
        ticket = TicketModel.new(
            org_id,
            requester_id=requester_of(t),
            subject=subject,
            body_markdown=subject,
            body_html=f"<p>{subject}</p>",
            priority=t.priority,
            tags=list(t.tags),
            now=_iso(created),
            ticket_id=t.id,
        )
        ticket.status = t.status
        ticket.assignee_id = t.assignee
        ticket.updated_at = t.updated_at
        ticket.set_index_keys()
        ticket.version = 1
        items.append(ticket)
        items.extend(TagModel.for_ticket(org_id, t.id, tag) for tag in t.tags)
        items.extend(
            TermModel.for_ticket(org_id, t.id, requester_of(t), term, public=True)
            for term in text_terms([subject, subject])
        )
    repository.put_tickets(items)


def _tickets(
    rng: random.Random, requesters: list[str], assignees: list[str | None]
) -> list[Seeded]:
    tickets: list[Seeded] = []
    for i in range(SEEDED):
        created = BASE + timedelta(minutes=7 * i, milliseconds=rng.randrange(60_000))
        # Updated times on the hour often coincide: the id breaks those ties.
        updated = created + timedelta(hours=rng.randrange(0, 24 * 30))
        updated = updated.replace(minute=0, second=0, microsecond=0) if i % 3 else updated
        ms = int(created.timestamp() * 1000)
        tickets.append(
            Seeded(
                id=f"{ms:012x}{rng.getrandbits(80):020x}",
                requester=rng.choices(requesters, weights=(6, 2, 1, 1))[0],
                assignee=rng.choice(assignees),
                status=rng.choice(Status.ALL),
                priority=rng.choices(Priority.ALL, weights=(3, 4, 2, 1))[0],
                tags=tuple(rng.sample(TAGS, rng.choice((0, 0, 1, 1, 2)))),
                updated_at=_iso(updated),
                words=tuple(rng.sample(WORDS, rng.choice((1, 2, 2, 3)))),
            )
        )
    return tickets


def _has_words(ticket: Seeded, terms: tuple[str, ...]) -> bool:
    return all(
        any(w.startswith(t[:-1]) for w in ticket.words) if t.endswith("*") else t in ticket.words
        for t in terms
    )


def _sort_key(sort: str) -> Callable[[Seeded], str]:
    field = sort.lstrip("-")
    if field == "updatedAt":
        return lambda t: f"{t.updated_at}#{t.id}"
    if field == "priority":
        return lambda t: f"{PRIORITY_RANK[t.priority]}#{t.id}"
    return lambda t: t.id


@dataclasses.dataclass(frozen=True)
class Query:
    status: tuple[str, ...]
    priority: tuple[str, ...]
    assignee: str | None  # a user id, "me" or None
    requester: str | None
    tag: str | None
    updated_since: str | None
    sort: str
    q: str | None
    limit: int

    def params(self) -> str:
        parts = [f"limit={self.limit}", f"sort={self.sort}"]
        if self.status:
            parts.append("status=" + ",".join(self.status))
        if self.priority:
            parts.append("priority=" + ",".join(self.priority))
        for name, value in (
            ("assigneeId", self.assignee),
            ("requesterId", self.requester),
            ("tag", self.tag),
            ("updatedSince", self.updated_since),
        ):
            if value is not None:
                parts.append(f"{name}={value}")
        if self.q is not None:
            parts.append("q=" + self.q.replace(" ", "%20"))
        return "&".join(parts).replace("+", "%2B")

    def expected(self, tickets: list[Seeded], caller: TestUser, staff: bool) -> list[str]:
        assignee = caller.id if self.assignee == "me" else self.assignee
        found = [
            t
            for t in tickets
            if (staff or t.requester == caller.id)
            and (not self.status or t.status in self.status)
            and (not self.priority or t.priority in self.priority)
            and (assignee is None or t.assignee == assignee)
            and (self.requester is None or t.requester == self.requester)
            and (self.tag is None or self.tag in t.tags)
            and (self.updated_since is None or t.updated_at >= self.updated_since)
            and (self.q is None or _has_words(t, SEARCHES[self.q]))
        ]
        found.sort(key=_sort_key(self.sort), reverse=self.sort.startswith("-"))
        return [t.id for t in found]


def _position(cursor: str | None, replacements: dict[str, str]) -> Any:
    """The position a cursor carries, with organization and user ids replaced by names."""
    if cursor is None:
        return None
    raw = unsign("cursor", cursor)
    assert raw is not None
    text = json.dumps(json.loads(raw)["p"], sort_keys=True)
    for value, name in replacements.items():
        text = text.replace(value, name)
    return json.loads(text)


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many index Queries the current request made (reset per page by the walker)."""
    counter = [0]
    real = repository._raw_query

    def counting(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(repository, "_raw_query", counting)
    return counter


def test_pages_return_exactly_the_matches_in_order(
    client: Any, make_org: Callable[..., TestOrg], rounds: list[int]
) -> None:
    org, alone = make_org(), make_org()
    requester, agent = org.requester, org.agent
    others = [org.add_user(Role.REQUESTER) for _ in range(3)]
    agent2 = org.add_user(Role.AGENT)
    requesters = [requester.id] + [u.id for u in others]
    rng = random.Random(20261203)
    tickets = _tickets(rng, requesters, [None, None, agent.id, agent2.id])
    _seed(org.id, tickets)
    # The requester's own tickets again, in an organization where nobody else has any.
    own = [t for t in tickets if t.requester == requester.id]
    _seed(alone.id, own, lambda _t: alone.requester.id)
    names = {
        org.id: "ORG",
        alone.id: "ORG",
        requester.id: "REQUESTER",
        alone.requester.id: "REQUESTER",
        agent.id: "AGENT",
        alone.agent.id: "AGENT",
    }
    updated = sorted(t.updated_at for t in tickets)
    limit_hint = {"short": 0}

    def walk(user: TestUser, query: Query) -> tuple[list[list[str]], list[Any]]:
        pages: list[list[str]] = []
        positions: list[Any] = []
        cursor: str | None = None
        while True:
            suffix = f"&cursor={cursor}" if cursor else ""
            rounds[0] = 0
            response = client.get(f"/api/tickets?{query.params()}{suffix}", token=user.token)
            assert response.status == 200, (query, response.body)
            ids = [item["id"] for item in response.json["items"]]
            cursor = response.json["nextCursor"]
            if len(ids) < query.limit and cursor is not None:
                # Short with more to read: only when the page used its whole read budget.
                assert rounds[0] == repository.MAX_QUERIES_PER_PAGE, (query, len(ids), rounds[0])
                limit_hint["short"] += 1
            pages.append(ids)
            positions.append(_position(cursor, names))
            assert len(pages) <= 3 * MAX_PAGES + 5, query
            if cursor is None:
                return pages, positions

    @settings(
        max_examples=4,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        who = data.draw(st.sampled_from(("agent", "admin", "requester")), label="caller")
        user = {"agent": agent, "admin": org.admin, "requester": requester}[who]
        staff = who != "requester"
        q = data.draw(st.none() | st.sampled_from(sorted(SEARCHES)), label="q")
        sort = (
            "-createdAt"
            if q is not None
            else data.draw(
                st.sampled_from(
                    ("-createdAt", "createdAt", "-updatedAt", "updatedAt", "-priority", "priority")
                ),
                label="sort",
            )
        )
        query = Query(
            status=tuple(data.draw(st.lists(st.sampled_from(Status.ALL), unique=True, max_size=2))),
            priority=tuple(
                data.draw(st.lists(st.sampled_from(Priority.ALL), unique=True, max_size=2))
            ),
            assignee=data.draw(st.sampled_from((None, None, "me", agent.id, agent2.id))),
            requester=data.draw(st.sampled_from((None, None, requester.id, others[0].id))),
            tag=data.draw(st.none() | st.sampled_from(TAGS)),
            updated_since=data.draw(st.none() | st.sampled_from(updated[::97])),
            sort=sort,
            q=q,
            limit=data.draw(st.sampled_from((1, 7, 25, 60, 100)), label="limit"),
        )
        expected = query.expected(tickets, user, staff)
        # Keep each walk to a bounded number of pages (moto answers slowly).
        need = max(query.limit, min(100, math.ceil(len(expected) / MAX_PAGES)))
        query = dataclasses.replace(query, limit=need)
        pages, positions = walk(user, query)
        seen = [tid for page in pages for tid in page]
        assert seen == expected, query
        full_pages = math.ceil(len(expected) / query.limit)
        assert len(pages) >= max(1, full_pages)
        if who == "requester":
            # Pages and positions depend on nothing but the requester's own tickets.
            mirror = dataclasses.replace(
                query,
                requester=None
                if query.requester is None
                else alone.requester.id
                if query.requester == requester.id
                else query.requester,
                assignee=query.assignee,
            )
            alone_pages, alone_positions = walk(alone.requester, mirror)
            if query.requester not in (None, requester.id):
                assert alone_pages == [[]] == pages
            else:
                assert alone_pages == pages, query
                assert alone_positions == positions, query

    check()
