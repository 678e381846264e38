"""Merging a ticket into another: what staff, both requesters and webhook consumers then see.

The source is CLOSED with `mergedInto`, the target lists it in `mergedFrom` and shows its
comments (one oldest-first conversation) and attachments; the source's requester keeps the
source but does not gain the target; internal notes stay staff-only.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.audit.models import AuditRecordModel
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict
from chalicelib.core.org_keys import org_pk
from chalicelib.tickets import merge
from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk
from chalicelib.tickets.service import CLOSED_REPLY
from chalicelib.webhooks.models import EventModel
from tests.integration.test_tickets_concurrency import atomic_transactions  # noqa: F401
from tests.support.attachments import request_upload
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import comment, create_ticket, patch


def merge_call(
    client: Any, user: TestUser, source: dict[str, Any], into_id: str, version: Any = None
) -> Any:
    headers = {} if version is False else {"If-Match": str(version or source["version"])}
    return client.post(
        f"/api/tickets/{source['id']}/merge",
        json={"intoId": into_id},
        token=user.token,
        headers=headers,
    )


def get(client: Any, user: TestUser, ticket_id: str) -> Any:
    return client.get(f"/api/tickets/{ticket_id}", token=user.token)


def with_query(path: str, params: dict[str, Any]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def comment_bodies(client: Any, user: TestUser, ticket_id: str, **params: Any) -> list[str]:
    response = client.get(
        with_query(f"/api/tickets/{ticket_id}/comments", params), token=user.token
    )
    assert response.status == 200, response.body
    return [item["bodyMarkdown"] for item in response.json["items"]]


def two_requesters(client: Any, org: TestOrg) -> tuple[TestUser, dict[str, Any], dict[str, Any]]:
    """(the source's requester, the source, the target): tickets of two requesters."""
    other = org.add_user(org.requester.role)
    target = create_ticket(client, org.requester, subject="Target")
    source = create_ticket(client, other, subject="Source")
    return other, source, target


def test_merge_closes_the_source_and_links_both(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)

    response = merge_call(client, org.agent, source, target["id"])

    assert response.status == 200, response.body
    assert response.json["id"] == target["id"]
    assert response.json["mergedFrom"] == [source["id"]]
    assert response.json["mergedInto"] is None
    assert response.json["version"] == target["version"] + 1
    assert response.headers["ETag"] == f'"{target["version"] + 1}"'
    stored_source = get(client, org.agent, source["id"]).json
    assert (stored_source["status"], stored_source["mergedInto"]) == ("CLOSED", target["id"])
    assert stored_source["mergedFrom"] == []
    assert stored_source["version"] == source["version"] + 1
    assert get(client, org.agent, target["id"]).json["mergedFrom"] == [source["id"]]


def test_system_comments_state_the_merge_on_both(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)
    assert merge_call(client, org.admin, source, target["id"]).status == 200

    assert comment_bodies(client, org.agent, source["id"]) == [
        f"This ticket was merged into ticket {target['id']}."
    ]
    assert comment_bodies(client, org.agent, target["id"]) == [
        f"Ticket {source['id']} was merged into this ticket."
    ]


def test_target_shows_the_merged_conversation_oldest_first(client: Any, make_org: Any) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    assert comment(client, org.requester, target["id"], "target 1").status == 201
    assert comment(client, other, source["id"], "source 1").status == 201
    assert comment(client, org.agent, source["id"], "source note", internal=True).status == 201
    assert comment(client, org.requester, target["id"], "target 2").status == 201
    assert comment(client, org.agent, source["id"], "source 2").status == 201
    source = get(client, org.agent, source["id"]).json
    assert merge_call(client, org.agent, source, target["id"]).status == 200
    merged_note = f"Ticket {source['id']} was merged into this ticket."

    staff_view = comment_bodies(client, org.agent, target["id"])
    assert staff_view == [
        "target 1",
        "source 1",
        "source note",
        "target 2",
        "source 2",
        merged_note,
    ]
    # The target's requester reads the merged public replies, never the internal note.
    assert comment_bodies(client, org.requester, target["id"]) == [
        "target 1",
        "source 1",
        "target 2",
        "source 2",
        merged_note,
    ]
    response = client.get(f"/api/tickets/{target['id']}/comments", token=org.agent.token)
    owners = [item["ticketId"] for item in response.json["items"]]
    t, s = target["id"], source["id"]
    assert owners == [t, s, s, t, s, t]


def test_search_finds_the_target_by_the_merged_tickets_words(client: Any, make_org: Any) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    assert comment(client, other, source["id"], "the zeppelin printer jams").status == 201
    assert comment(client, org.agent, source["id"], "vendor quokka", internal=True).status == 201
    source = get(client, org.agent, source["id"]).json
    assert merge_call(client, org.agent, source, target["id"]).status == 200

    def found(user: TestUser, q: str) -> set[str]:
        response = client.get(f"/api/tickets?q={q}", token=user.token)
        assert response.status == 200, response.body
        return {item["id"] for item in response.json["items"]}

    assert found(org.agent, "zeppelin") == {source["id"], target["id"]}
    assert found(org.agent, "quokka") == {source["id"], target["id"]}
    # The target's requester reads the merged public replies on the target, so finds it by
    # them; never by an internal note; the source's requester still finds only the source.
    assert found(org.requester, "zeppelin") == {target["id"]}
    assert found(org.requester, "quokka") == set()
    assert found(other, "zeppelin") == {source["id"]}


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_merged_conversation_pages_visit_every_comment_once(
    client: Any, make_org: Any, limit: int
) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    expected = []
    for index in range(3):
        assert comment(client, other, source["id"], f"s{index}").status == 201
        assert comment(client, org.agent, target["id"], f"t{index}").status == 201
        assert comment(client, org.agent, source["id"], f"n{index}", internal=True).status == 201
        expected += [f"s{index}", f"t{index}"]
    source = get(client, org.agent, source["id"]).json
    assert merge_call(client, org.agent, source, target["id"]).status == 200
    expected.append(f"Ticket {source['id']} was merged into this ticket.")

    seen: list[str] = []
    cursor = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = client.get(
            with_query(f"/api/tickets/{target['id']}/comments", params), token=org.requester.token
        )
        assert response.status == 200, response.body
        assert len(response.json["items"]) <= limit
        seen += [item["bodyMarkdown"] for item in response.json["items"]]
        cursor = response.json["nextCursor"]
        if cursor is None:
            break
    assert seen == expected


def test_target_shows_the_merged_attachments(client: Any, make_org: Any) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    own = request_upload(client, org.requester, target["id"], "own.png", "image/png", 10)
    theirs = request_upload(client, other, source["id"], "theirs.png", "image/png", 10)
    assert (own.status, theirs.status) == (201, 201), (own.body, theirs.body)
    source = get(client, org.agent, source["id"]).json
    assert merge_call(client, org.agent, source, target["id"]).status == 200
    theirs_id = theirs.json["attachment"]["id"]

    listed = client.get(f"/api/tickets/{target['id']}/attachments", token=org.requester.token)
    assert listed.status == 200, listed.body
    assert [(item["filename"], item["ticketId"]) for item in listed.json["items"]] == [
        ("own.png", target["id"]),
        ("theirs.png", source["id"]),
    ]
    one = client.get(
        f"/api/tickets/{target['id']}/attachments/{theirs_id}", token=org.requester.token
    )
    assert (one.status, one.json["filename"]) == (200, "theirs.png")
    # Served through the target too (not yet scanned: refused for that reason, not as unknown).
    download = client.get(
        f"/api/tickets/{target['id']}/attachments/{theirs_id}/download", token=org.requester.token
    )
    assert download.status == 409, download.body

    listing = f"/api/tickets/{target['id']}/attachments"
    paged = client.get(with_query(listing, {"limit": 1}), token=org.agent.token)
    second = client.get(
        with_query(listing, {"limit": 1, "cursor": paged.json["nextCursor"]}),
        token=org.agent.token,
    )
    assert [item["filename"] for item in paged.json["items"] + second.json["items"]] == [
        "own.png",
        "theirs.png",
    ]
    assert second.json["nextCursor"] is None


def test_source_requester_keeps_the_source_but_not_the_target(client: Any, make_org: Any) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    assert comment(client, other, source["id"], "my question").status == 201
    assert comment(client, org.agent, source["id"], "staff only", internal=True).status == 201
    source = get(client, org.agent, source["id"]).json
    assert merge_call(client, org.agent, source, target["id"]).status == 200

    mine = get(client, other, source["id"])
    assert (mine.status, mine.json["status"], mine.json["mergedInto"]) == (
        200,
        "CLOSED",
        target["id"],
    )
    assert comment_bodies(client, other, source["id"]) == [
        "my question",
        f"This ticket was merged into ticket {target['id']}.",
    ]
    assert get(client, other, target["id"]).status == 404
    listed = client.get(f"/api/tickets/{target['id']}/comments", token=other.token)
    assert listed.status == 404
    # The target's requester does not gain the source ticket itself either.
    assert get(client, org.requester, source["id"]).status == 404


def test_reply_on_the_merged_source_is_refused_as_closed(client: Any, make_org: Any) -> None:
    org = make_org()
    other, source, target = two_requesters(client, org)
    assert merge_call(client, org.agent, source, target["id"]).status == 200

    refused = comment(client, other, source["id"], "one more thing")

    assert refused.status == 409
    assert refused.json["error"]["message"] == CLOSED_REPLY.format(ticket_id=source["id"])
    follow_up = create_ticket(client, other, followUpOf=source["id"])
    assert follow_up["followUpOf"] == source["id"]


def test_merged_source_cannot_be_reopened(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)
    assert merge_call(client, org.agent, source, target["id"]).status == 200
    merged = get(client, org.agent, source["id"]).json

    reopened = patch(client, org.agent, merged, status="OPEN")

    assert reopened.status == 409
    assert target["id"] in reopened.json["error"]["message"]
    assert get(client, org.agent, source["id"]).json["status"] == "CLOSED"


def test_bulk_status_change_of_a_merged_ticket_is_a_conflict(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)
    assert merge_call(client, org.agent, source, target["id"]).status == 200
    response = client.post(
        "/api/tickets/bulk",
        json={"action": "set_status", "status": "OPEN", "ids": [source["id"], target["id"]]},
        token=org.agent.token,
    )
    assert response.status == 200, response.body
    assert response.json["results"] == [
        {"id": source["id"], "result": "CONFLICT"},
        {"id": target["id"], "result": "ok"},
    ]
    assert get(client, org.agent, source["id"]).json["status"] == "CLOSED"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("itself", "cannot be merged into itself"),
        ("merged source", "already merged into ticket"),
        ("merged target", "was itself merged into ticket"),
        ("closed target", "target ticket is closed"),
        ("stale version", "changed by someone else"),
    ],
)
def test_refusals_name_why(client: Any, make_org: Any, case: str, message: str) -> None:
    org = make_org()
    first = create_ticket(client, org.requester)
    second = create_ticket(client, org.requester)
    third = create_ticket(client, org.requester)
    source, into, version = first, second["id"], None
    if case == "itself":
        into = first["id"]
    elif case == "merged source":
        assert merge_call(client, org.agent, first, third["id"]).status == 200
        source, version = get(client, org.agent, first["id"]).json, None
    elif case == "merged target":
        assert merge_call(client, org.agent, second, third["id"]).status == 200
    elif case == "closed target":
        assert patch(client, org.agent, second, status="CLOSED").status == 200
    else:
        version = first["version"] + 1
    before = {t["id"]: get(client, org.agent, t["id"]).json for t in (first, second, third)}

    response = merge_call(client, org.agent, source, into, version)

    assert response.status == 409, response.body
    assert message in response.json["error"]["message"]
    after = {t["id"]: get(client, org.agent, t["id"]).json for t in (first, second, third)}
    assert after == before


def test_if_match_is_required(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)
    response = merge_call(client, org.agent, source, target["id"], version=False)
    assert response.status == 428
    assert get(client, org.agent, source["id"]).json["status"] == "OPEN"


def test_nonexistent_target_is_404(client: Any, make_org: Any) -> None:
    org = make_org()
    source = create_ticket(client, org.requester)
    for into in ("0" * 32, "not-an-id"):
        response = merge_call(client, org.agent, source, into)
        assert response.status in {400, 404}, response.body
    assert merge_call(client, org.agent, source, "0" * 32).status == 404
    assert get(client, org.agent, source["id"]).json["status"] == "OPEN"


def test_webhook_events_and_audit_record(client: Any, make_org: Any) -> None:
    org = make_org()
    _other, source, target = two_requesters(client, org)
    assert merge_call(client, org.agent, source, target["id"]).status == 200

    events = [
        (event.event_type, json.loads(event.body)["data"])
        for event in EventModel.query(org_pk(org.id), EventModel.sk.startswith("EVT#"))
    ]
    updated = {data["id"]: data for kind, data in events if kind == "ticket.updated"}
    assert set(updated) == {source["id"], target["id"]}
    assert updated[source["id"]]["changedFields"] == ["mergedInto", "status"]
    assert updated[source["id"]]["mergedInto"] == target["id"]
    assert updated[source["id"]]["version"] == source["version"] + 1
    assert updated[target["id"]]["changedFields"] == ["mergedFrom"]
    assert updated[target["id"]]["mergedFrom"] == [source["id"]]
    assert updated[target["id"]]["version"] == target["version"] + 1
    assert {data["changedBy"] for data in updated.values()} == {org.agent.id}

    records = [
        record
        for record in AuditRecordModel.query(org_pk(org.id))
        if getattr(record, "action", None) == "ticket.merge"
    ]
    assert len(records) == 1
    assert (records[0].actor_id, records[0].target_id) == (org.agent.id, source["id"])


@pytest.mark.usefixtures("atomic_transactions")
def test_concurrent_merges_of_one_source_exactly_one_wins(client: Any, make_org: Any) -> None:
    org = make_org()
    source = create_ticket(client, org.requester)
    targets = [create_ticket(client, org.requester) for _ in range(4)]
    barrier = threading.Barrier(len(targets))
    outcomes: dict[str, str] = {}
    principal = Principal(org.agent.id, org.id, org.agent.role)

    def run(target_id: str) -> None:
        barrier.wait()
        try:
            merge.merge_ticket(principal, source["id"], target_id, source["version"])
            outcomes[target_id] = "ok"
        except Conflict:
            outcomes[target_id] = "conflict"
        except Exception as error:
            outcomes[target_id] = repr(error)

    threads = [threading.Thread(target=run, args=(t["id"],)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes.values()) == ["conflict"] * (len(targets) - 1) + ["ok"], outcomes
    (winner,) = [tid for tid, outcome in outcomes.items() if outcome == "ok"]
    stored = TicketModel.get(ticket_pk(org.id, source["id"]), TICKET_SK)
    assert (stored.merged_into, stored.status) == (winner, "CLOSED")
    linked = [
        t["id"]
        for t in targets
        if TicketModel.get(ticket_pk(org.id, t["id"]), TICKET_SK).merged_from
    ]
    assert linked == [winner]


@pytest.mark.usefixtures("atomic_transactions")
def test_crossing_merges_cannot_both_succeed(client: Any, make_org: Any) -> None:
    org = make_org()
    first = create_ticket(client, org.requester)
    second = create_ticket(client, org.requester)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    principal = Principal(org.agent.id, org.id, org.agent.role)

    def run(source: dict[str, Any], into: dict[str, Any]) -> None:
        barrier.wait()
        try:
            merge.merge_ticket(principal, source["id"], into["id"], source["version"])
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=run, args=(first, second)),
        threading.Thread(target=run, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(outcomes) == ["conflict", "ok"]
    stored = [TicketModel.get(ticket_pk(org.id, t["id"]), TICKET_SK) for t in (first, second)]
    assert sorted(item.merged_into is None for item in stored) == [False, True]
