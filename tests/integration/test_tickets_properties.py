"""Property tests: any string in create/update either round-trips exactly (201/200, stored value
equal to what was accepted) or is refused with a 400 — never a 500.

Each test builds its organization once and runs the hypothesis examples inside, so examples share
the test's mocked account; explicit examples guarantee both outcomes are exercised."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

# Any code point, surrogates included on purpose: JSON can carry them, UTF-8 storage cannot.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=300)
tag_lists = st.lists(st.text(max_size=40), max_size=12)
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, database=None)


def test_create_round_trips_or_400(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    outcomes: Counter[int] = Counter()

    @PROPERTY_SETTINGS
    @given(subject=any_text, body=any_text, tags=tag_lists)
    @example(subject="Ünïcødé 🎫 <b>", body="# Title\n\n* one\r\n* two\t", tags=["a-1", "b_2"])
    @example(subject="", body="x", tags=[])
    def check(subject: str, body: str, tags: list[str]) -> None:
        response = client.post(
            "/api/tickets",
            json={"subject": subject, "body": body, "tags": tags},
            token=org.requester.token,
        )
        outcomes[response.status] += 1
        assert response.status in (201, 400), response.body
        if response.status == 400:
            assert response.json["error"]["code"] == "VALIDATION_ERROR"
            return
        ticket = response.json
        assert (ticket["subject"], ticket["bodyMarkdown"], ticket["tags"]) == (subject, body, tags)
        stored = TicketModel.get(ticket_pk(org.id, ticket["id"]), TICKET_SK)
        assert (stored.subject, stored.body_markdown, list(stored.tags)) == (subject, body, tags)

    check()
    assert outcomes[201] >= 1 and outcomes[400] >= 1


def test_update_round_trips_or_400(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    outcomes: Counter[int] = Counter()

    @PROPERTY_SETTINGS
    @given(subject=any_text, tags=tag_lists)
    @example(subject="Renamed ✓", tags=["x"])
    @example(subject="tab\there", tags=[])
    def check(subject: str, tags: list[str]) -> None:
        before = TicketModel.get(ticket_pk(org.id, ticket_id), TICKET_SK)
        response = client.patch(
            f"/api/tickets/{ticket_id}",
            json={"subject": subject, "tags": tags},
            token=org.agent.token,
            headers={"If-Match": str(before.version)},
        )
        outcomes[response.status] += 1
        assert response.status in (200, 400), response.body
        stored = TicketModel.get(ticket_pk(org.id, ticket_id), TICKET_SK)
        if response.status == 200:
            assert (response.json["subject"], response.json["tags"]) == (subject, tags)
            assert (stored.subject, list(stored.tags)) == (subject, tags)
        else:
            assert (stored.subject, stored.version) == (before.subject, before.version)

    check()
    assert outcomes[200] >= 1 and outcomes[400] >= 1


def test_comment_round_trips_or_400(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    outcomes: Counter[int] = Counter()

    @PROPERTY_SETTINGS
    @given(body=any_text, internal=st.one_of(st.booleans(), st.text(max_size=3), st.none()))
    @example(body="**reply**", internal=False)
    @example(body="\x00", internal=True)
    def check(body: str, internal: Any) -> None:
        response = client.post(
            f"/api/tickets/{ticket_id}/comments",
            json={"body": body, "internal": internal},
            token=org.agent.token,
        )
        outcomes[response.status] += 1
        assert response.status in (201, 400), response.body
        if response.status == 201:
            assert isinstance(internal, bool)
            assert (response.json["bodyMarkdown"], response.json["internal"]) == (body, internal)

    check()
    assert outcomes[201] >= 1 and outcomes[400] >= 1
