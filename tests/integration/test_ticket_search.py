"""`GET /api/tickets?q=`: words (case- and accent-insensitive), prefixes, phrases, combined
with filters; the index follows subject edits and is rebuilt by `tickets reindex`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.tickets.models import TERM_PREFIX, TermModel, ticket_pk
from cli.main import main
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import comment, create_ticket, patch


def found(client: Any, user: TestUser, query: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.get(f"/api/tickets?limit=2&q={query}{suffix}", token=user.token)
        assert response.status == 200, response.body
        ids += [item["id"] for item in response.json["items"]]
        cursor = response.json["nextCursor"]
        if cursor is None:
            return ids


def test_words_prefixes_phrases_and_filters(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    printer = create_ticket(
        client, org.requester, subject="Imprimante en panne", body="Le café a coulé"
    )
    vpn = create_ticket(
        client, org.requester, subject="VPN down", body="cannot reach the Intranet", priority="HIGH"
    )
    both = create_ticket(client, org.requester, subject="Printer and VPN", body="the reach cannot")
    comment(client, org.agent, vpn["id"], "Rebooted the concentrator")
    agent = org.agent
    assert found(client, agent, "CAFE") == [printer["id"]]  # accents and case folded
    assert found(client, agent, "Café") == [printer["id"]]
    assert found(client, agent, "vpn") == [both["id"], vpn["id"]]  # newest first
    assert found(client, agent, "vpn%20intranet") == [vpn["id"]]  # every word must match
    assert found(client, agent, "concentr*") == [vpn["id"]]  # a word of a comment, by prefix
    assert found(client, agent, "impr*%20panne") == [printer["id"]]
    assert found(client, agent, '"cannot%20reach"') == [vpn["id"]]  # the phrase, not the words
    assert sorted(found(client, agent, "cannot%20reach")) == sorted([vpn["id"], both["id"]])
    assert found(client, agent, "vpn&priority=HIGH") == [vpn["id"]]
    assert found(client, agent, "vpn&priority=NORMAL,LOW") == [both["id"]]
    assert found(client, agent, "nothing-like-this") == []


@pytest.mark.parametrize("query", ["a*", "*", "%22%22", "abcdefghijkl*", "x" * 201])
def test_bad_search_terms_are_400(
    client: Any, make_org: Callable[..., TestOrg], query: str
) -> None:
    org = make_org()
    response = client.get(f"/api/tickets?q={query}", token=org.agent.token)
    assert response.status == 400, response.body
    assert response.json["error"]["details"][0]["field"] == "q"


def test_search_sorts_newest_first_only(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    response = client.get("/api/tickets?q=vpn&sort=priority", token=org.agent.token)
    assert response.status == 400 and response.json["error"]["details"][0]["field"] == "sort"


def test_a_subject_edit_moves_the_index(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester, subject="Keyboard sticky", body="help")
    assert patch(client, org.agent, ticket, subject="Mouse broken").status == 200
    assert found(client, org.agent, "keyboard") == []
    assert found(client, org.agent, "mouse") == [ticket["id"]]


def test_reindex_rebuilds_a_lost_index(
    client: Any, make_org: Callable[..., TestOrg], capsys: pytest.CaptureFixture[str]
) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester, subject="Scanner jammed", body="paper")
    comment(client, org.agent, ticket["id"], "secret workaround", internal=True)
    terms = list(
        TermModel.query(ticket_pk(org.id, ticket["id"]), TermModel.sk.startswith(TERM_PREFIX))
    )
    assert terms
    with TermModel.batch_write() as batch:
        for item in terms:
            batch.delete(item)
    assert found(client, org.agent, "scanner") == []
    capsys.readouterr()
    assert main(["tickets", "reindex", "--org", org.id]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tickets"] == 1 and report["termsWritten"] == len(terms)
    assert found(client, org.agent, "scanner") == [ticket["id"]]
    assert found(client, org.agent, "workaround") == [ticket["id"]]
    assert found(client, org.requester, "workaround") == []  # still a note's word
    capsys.readouterr()
    assert main(["tickets", "reindex", "--org", org.id]) == 0  # idempotent
    assert json.loads(capsys.readouterr().out)["termsWritten"] == 0
