"""GET /api/admin/audit: ADMIN only, filters, cursor pagination bound to org and query."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

from tests.support.audit import ORG_SETUP_RECORDS, audit_scenario

SCENARIO_SIZE = 10 + ORG_SETUP_RECORDS  # three user.create, nine entries, one revocation


def _list(client: Any, user: Any, **params: Any) -> Any:
    query = urlencode(params)
    return client.get(f"/api/admin/audit{'?' + query if query else ''}", token=user.token)


def test_admin_lists_newest_first_with_full_records(client: Any, make_org: Any) -> None:
    org = make_org()
    audit_scenario(org)
    response = _list(client, org.admin)
    assert response.status == 200
    items = response.json["items"]
    assert [item["seq"] for item in items] == list(range(SCENARIO_SIZE, 0, -1))
    assert response.json["nextCursor"] is None
    assert [item["action"] for item in items[-ORG_SETUP_RECORDS:]] == ["user.create"] * 3
    first = items[-(ORG_SETUP_RECORDS + 1)]
    assert first["action"] == "ticket.create"
    assert first["actorId"] == org.requester.id
    assert first["after"] == {"status": "OPEN", "priority": "HIGH", "tags": []}
    assert set(first) >= {"seq", "at", "actorId", "action", "targetType", "targetId", "hash"}
    assert items[0]["action"] == "user.revoke_all_credentials"
    assert items[0]["actorId"] == "system:containment"


@pytest.mark.parametrize("role", ["agent", "requester"])
def test_only_admins(client: Any, make_org: Any, role: str) -> None:
    org = make_org()
    user = getattr(org, role)
    assert _list(client, user).status == 403
    assert client.get("/api/admin/audit/verify", token=user.token).status == 403


def test_other_organizations_records_never_show(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    audit_scenario(other)
    body = _list(client, org.admin).json
    assert body["nextCursor"] is None
    # Only this organization's own setup records (its three users' creation), nothing of `other`.
    own_users = {org.admin.id, org.agent.id, org.requester.id}
    assert [(i["action"], i["targetId"] in own_users) for i in body["items"]] == [
        ("user.create", True)
    ] * ORG_SETUP_RECORDS


def test_cursor_pagination_visits_every_record_once(client: Any, make_org: Any) -> None:
    org = make_org()
    audit_scenario(org)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        body = _list(client, org.admin, **params).json
        seen += [item["seq"] for item in body["items"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert seen == list(range(SCENARIO_SIZE, 0, -1))
    assert pages == -(-SCENARIO_SIZE // 3)


def test_filters(client: Any, make_org: Any) -> None:
    org = make_org()
    records = audit_scenario(org)
    by_agent = _list(client, org.admin, actor=org.agent.id).json["items"]
    assert {i["action"] for i in by_agent} == {
        "ticket.status_change",
        "comment.internal_note",
        "attachment.deleted",
    }
    target = _list(client, org.admin, targetType="attachment", targetId="a1").json["items"]
    assert [i["action"] for i in target] == [
        "attachment.deleted",
        "attachment.scan_result",
        "attachment.upload_requested",
    ]
    # Time window: from the 4th record's timestamp (inclusive) to the 6th's (exclusive).
    since, until = records[3].at, records[5].at
    window = _list(client, org.admin, since=since, until=until, limit=100).json["items"]
    assert all(since <= item["at"] < until for item in window)
    assert int(records[3].seq) in {item["seq"] for item in window}
    assert int(records[5].seq) not in {item["seq"] for item in window}


def test_filtered_pagination(client: Any, make_org: Any) -> None:
    org = make_org()
    audit_scenario(org)
    first = _list(client, org.admin, actor=org.agent.id, limit=2).json
    assert len(first["items"]) == 2 and first["nextCursor"]
    second = _list(client, org.admin, actor=org.agent.id, limit=2, cursor=first["nextCursor"])
    assert [i["action"] for i in second.json["items"]] == ["ticket.status_change"]
    assert second.json["nextCursor"] is None
    # The cursor is bound to its query: reusing it without the filter is refused.
    assert _list(client, org.admin, limit=2, cursor=first["nextCursor"]).status == 400


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:-2] + ("A" if c[-2] != "A" else "B") + c[-1],  # MAC changed
        lambda c: "eyJvIjoieCJ9" + c[c.index(".") :],  # payload swapped, old MAC
        lambda c: "garbage",
    ],
)
def test_tampered_cursor_is_400(client: Any, make_org: Any, mutate: Any) -> None:
    org = make_org()
    audit_scenario(org)
    cursor = _list(client, org.admin, limit=2).json["nextCursor"]
    response = _list(client, org.admin, limit=2, cursor=mutate(cursor))
    assert response.status == 400
    assert response.json["error"]["code"] == "VALIDATION_ERROR"


def test_bad_parameters_are_400(client: Any, make_org: Any) -> None:
    org = make_org()
    assert _list(client, org.admin, limit=0).status == 400
    assert _list(client, org.admin, limit=101).status == 400
    assert _list(client, org.admin, since="yesterday").status == 400
    assert _list(client, org.admin, since="2026-01-01T00:00:00").status == 400  # no zone
    assert _list(client, org.admin, organizationId="other").status == 400


def test_a_change_is_listed_at_once_pending_then_chained(client: Any, make_org: Any) -> None:
    from tests.support.audit import chain_all

    org = make_org()
    chain_all()
    created = client.post(
        "/api/tickets", json={"subject": "Printer", "body": "on fire"}, token=org.requester.token
    )
    assert created.status == 201
    newest = _list(client, org.admin, limit=1).json["items"][0]
    assert (newest["action"], newest["targetId"]) == ("ticket.create", created.json["id"])
    assert newest["pending"] is True
    assert (newest["seq"], newest["prevHash"], newest["hash"]) == (None, None, None)
    chain_all()
    chained = _list(client, org.admin, limit=1).json["items"][0]
    assert chained["id"] == newest["id"] and chained["pending"] is False
    assert chained["seq"] == ORG_SETUP_RECORDS + 1 and len(chained["hash"]) == 64
    report = client.get("/api/admin/audit/verify", token=org.admin.token).json
    assert (report["ok"], report["pending"], report["checked"]) == (True, 0, chained["seq"])
