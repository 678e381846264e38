"""Search cannot reach across organizations, across requesters, or into internal notes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import comment, create_ticket


def search(client: Any, user: TestUser, q: str) -> dict[str, Any]:
    response = client.get(f"/api/tickets?limit=5&q={q}", token=user.token)
    assert response.status == 200, response.body
    return dict(response.json)


def test_a_term_only_in_another_organization_finds_nothing(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    mine, theirs = make_org(), make_org()
    create_ticket(client, mine.requester, subject="Ordinary printer issue", body="toner")
    secret = create_ticket(client, theirs.requester, subject="Zyxquartz merger plan", body="x")
    comment(client, theirs.agent, secret["id"], "zyxquartz board notes", internal=True)
    for user in (mine.admin, mine.agent, mine.requester):
        for q in ("zyxquartz", "zyxq*", "%22zyxquartz%20merger%22", "merger"):
            assert search(client, user, q) == {"items": [], "nextCursor": None}
    assert [t["id"] for t in search(client, theirs.agent, "zyxquartz")["items"]] == [secret["id"]]


def test_internal_note_words_match_for_staff_only(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester, subject="Laptop slow", body="since Monday")
    comment(client, org.agent, ticket["id"], "Suspect cryptominer malware, escalate", internal=True)
    comment(client, org.agent, ticket["id"], "We are looking into it")
    for q in ("cryptominer", "crypto*", "malware", "%22malware%20escalate%22", "laptop%20malware"):
        assert search(client, org.requester, q)["items"] == [], q
        assert [t["id"] for t in search(client, org.agent, q)["items"]] == [ticket["id"]], q
    # Public words of the same ticket still match for its requester.
    assert [t["id"] for t in search(client, org.requester, "looking")["items"]] == [ticket["id"]]


def test_a_requester_finds_only_their_own_tickets(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    neighbour = org.add_user(org.requester.role)
    mine = create_ticket(client, org.requester, subject="Badge reader broken", body="door 3")
    create_ticket(client, neighbour, subject="Badge reader broken too", body="door 4")
    for _ in range(6):
        create_ticket(client, neighbour, subject="Badge again", body="badge")
    page = search(client, org.requester, "badge")
    assert [t["id"] for t in page["items"]] == [mine["id"]] and page["nextCursor"] is None
    assert search(client, org.requester, "door%204")["items"] == []
    staff = search(client, org.agent, "badge")
    assert len(staff["items"]) == 5 and staff["nextCursor"]
