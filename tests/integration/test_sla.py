"""SLA targets end to end: the admin calendar and policy, due times on tickets in a Berlin
business calendar (a weekend with the spring clock change and a holiday), the clocks stopped by
a public staff reply, resolution and PENDING, and the breach sweep (one event and one audit
record per ticket and target, however often it runs). The clock is frozen and moved by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.audit.models import AuditRecordModel
from chalicelib.core.org_keys import org_pk
from chalicelib.tickets import clock, sla_sweep
from chalicelib.webhooks.models import EventModel
from tests.support.orgs import TestOrg
from tests.support.tickets import comment, create_ticket, patch

BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = {
    "timeZone": "Europe/Berlin",
    "workingHours": [
        {"day": day, "start": "09:00", "end": "17:00"}
        for day in ("mon", "tue", "wed", "thu", "fri")
    ],
    "holidays": ["2026-03-30"],  # the Monday after the clock change
}
POLICY = {
    "targets": [
        {"priority": "URGENT", "firstResponseMinutes": 60, "resolutionMinutes": 240},
        {"priority": "HIGH", "firstResponseMinutes": 120, "resolutionMinutes": 480},
        {"priority": "NORMAL", "firstResponseMinutes": 240, "resolutionMinutes": 480},
    ],
    "groupOverrides": [
        {
            "groupId": "vip",
            "targets": [
                {"priority": "NORMAL", "firstResponseMinutes": 30, "resolutionMinutes": None}
            ],
        }
    ],
    "pauseResolutionWhenPending": True,
}


class FrozenClock:
    def __init__(self) -> None:
        self.at = datetime(2026, 1, 1, tzinfo=UTC)

    def berlin(self, *args: int) -> None:
        self.at = datetime(*args, tzinfo=BERLIN).astimezone(UTC)

    def now(self) -> str:
        return self.at.isoformat(timespec="milliseconds")


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> FrozenClock:
    fake = FrozenClock()
    monkeypatch.setattr(clock, "now", fake.now)
    return fake


def utc(*args: int) -> str:
    return datetime(*args, tzinfo=UTC).isoformat(timespec="milliseconds")


def _configure(client: Any, org: TestOrg) -> None:
    token = org.admin.token
    assert client.put("/api/admin/sla/calendar", json=CALENDAR, token=token).status == 200
    assert client.put("/api/admin/sla/policy", json=POLICY, token=token).status == 200


def _get(client: Any, org: TestOrg, ticket_id: str) -> dict[str, Any]:
    response = client.get(f"/api/tickets/{ticket_id}", token=org.agent.token)
    assert response.status == 200
    return dict(response.json)


def _audit_actions(org: TestOrg) -> list[AuditRecordModel]:
    return list(AuditRecordModel.query(org_pk(org.id), AuditRecordModel.sk.startswith("REC#")))


def _events(org: TestOrg, event_type: str) -> list[EventModel]:
    return [
        event
        for event in EventModel.query(org_pk(org.id), EventModel.sk.startswith("EVT#"))
        if event.event_type == event_type
    ]


def test_calendar_and_policy_round_trip_and_are_audited(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org, other = make_org(), make_org()
    default = client.get("/api/admin/sla/calendar", token=org.admin.token)
    assert default.status == 200 and default.json["timeZone"] == "UTC"
    assert client.get("/api/admin/sla/policy", token=org.admin.token).json["targets"] == []
    _configure(client, org)
    calendar = client.get("/api/admin/sla/calendar", token=org.admin.token).json
    assert calendar["timeZone"] == "Europe/Berlin" and calendar["holidays"] == ["2026-03-30"]
    policy = client.get("/api/admin/sla/policy", token=org.admin.token).json
    assert policy["targets"][0] == {
        "priority": "URGENT",
        "firstResponseMinutes": 60,
        "resolutionMinutes": 240,
    }
    assert policy["groupOverrides"][0]["groupId"] == "vip"
    actions = [record.action for record in _audit_actions(org)]
    assert "sla.calendar_update" in actions and "sla.policy_update" in actions
    # Another organization still has the defaults: settings are per organization.
    assert client.get("/api/admin/sla/calendar", token=other.admin.token).json["timeZone"] == "UTC"
    assert client.get("/api/admin/sla/policy", token=other.admin.token).json["targets"] == []
    # Agents and requesters may not read or change them.
    assert client.get("/api/admin/sla/policy", token=org.agent.token).status == 403
    assert client.put("/api/admin/sla/policy", json=POLICY, token=org.agent.token).status == 403


@pytest.mark.parametrize(
    "change",
    [
        {"timeZone": "Mars/Olympus_Mons"},
        {"timeZone": "../../etc/passwd"},
        {"workingHours": [{"day": "mon", "start": "17:00", "end": "09:00"}]},
        {
            "workingHours": [
                {"day": "mon", "start": "09:00", "end": "13:00"},
                {"day": "mon", "start": "12:00", "end": "17:00"},
            ]
        },
        {"workingHours": [{"day": "mon", "start": "09:00", "end": "25:00"}]},
        {"workingHours": []},
        {"holidays": [f"2026-01-01T00:00:{n:02d}" for n in range(2)]},
        {"holidays": ["2026-01-01", "2026-01-01"]},
        {"holidays": [f"{2026 + n // 365}-01-01" for n in range(367)]},
        {"extra": True},
    ],
)
def test_bad_calendars_are_400(
    client: Any, make_org: Callable[..., TestOrg], change: dict[str, Any]
) -> None:
    org = make_org()
    response = client.put("/api/admin/sla/calendar", json=CALENDAR | change, token=org.admin.token)
    assert response.status == 400, response.body
    assert client.get("/api/admin/sla/calendar", token=org.admin.token).json["timeZone"] == "UTC"


@pytest.mark.parametrize(
    "change",
    [
        {"targets": [{"priority": "HIGH", "firstResponseMinutes": 0, "resolutionMinutes": 5}]},
        {"targets": [{"priority": "HIGH", "firstResponseMinutes": "5", "resolutionMinutes": 5}]},
        {"targets": [{"priority": "NOPE", "firstResponseMinutes": 5, "resolutionMinutes": 5}]},
        {"targets": [{"priority": "LOW", "firstResponseMinutes": 5, "resolutionMinutes": 5}] * 2},
        {"pauseResolutionWhenPending": "yes"},
        {"groupOverrides": [{"groupId": "a b", "targets": []}]},
    ],
)
def test_bad_policies_are_400(
    client: Any, make_org: Callable[..., TestOrg], change: dict[str, Any]
) -> None:
    org = make_org()
    response = client.put("/api/admin/sla/policy", json=POLICY | change, token=org.admin.token)
    assert response.status == 400, response.body


def test_due_times_skip_the_weekend_the_clock_change_and_a_holiday(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org = make_org()
    _configure(client, org)
    frozen.berlin(2026, 3, 27, 16, 0)  # Friday 16:00 CET; Sunday: CEST; Monday: a holiday
    ticket = create_ticket(client, org.requester, priority="HIGH")
    # 60 minutes on Friday, the rest on Tuesday from 09:00 CEST (07:00 UTC).
    assert ticket["firstResponseDueAt"] == utc(2026, 3, 31, 8, 0)
    assert ticket["resolutionDueAt"] == utc(2026, 3, 31, 14, 0)
    assert ticket["slaState"] == "ok"
    # A priority change recomputes both from the creation time.
    frozen.berlin(2026, 3, 27, 16, 10)
    urgent = patch(client, org.agent, ticket, priority="URGENT")
    assert urgent.status == 200, urgent.body
    assert urgent.json["firstResponseDueAt"] == utc(2026, 3, 27, 16, 0)  # Friday 17:00 CET
    assert urgent.json["resolutionDueAt"] == utc(2026, 3, 31, 10, 0)  # Tuesday 12:00 CEST
    # 80% of the first-response target used (48 of 60 minutes): at risk.
    frozen.berlin(2026, 3, 27, 16, 50)
    assert _get(client, org, ticket["id"])["slaState"] == "at_risk"


def test_public_staff_reply_stops_first_response_and_resolving_meets(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org = make_org()
    _configure(client, org)
    frozen.berlin(2026, 3, 31, 9, 0)
    ticket = create_ticket(client, org.requester, priority="HIGH")
    frozen.berlin(2026, 3, 31, 9, 30)
    assert comment(client, org.agent, ticket["id"], "looking", internal=True).status == 201
    assert _get(client, org, ticket["id"])["firstRespondedAt"] is None
    assert comment(client, org.agent, ticket["id"], "on it").status == 201
    current = _get(client, org, ticket["id"])
    assert current["firstRespondedAt"] == frozen.now() and current["slaState"] == "ok"
    resolved = patch(client, org.agent, current, status="RESOLVED")
    assert resolved.status == 200 and resolved.json["slaState"] == "met"
    # Nothing of it is overdue for the sweep, even days later.
    frozen.berlin(2026, 4, 10, 9, 0)
    assert sla_sweep.sweep().breached == 0
    assert _get(client, org, ticket["id"])["slaState"] == "met"


def test_pending_pauses_the_resolution_clock(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org = make_org()
    _configure(client, org)
    frozen.berlin(2026, 3, 31, 9, 0)  # Tuesday
    ticket = create_ticket(client, org.requester)  # NORMAL: resolution in 480 minutes
    assert ticket["resolutionDueAt"] == utc(2026, 3, 31, 15, 0)  # Tuesday 17:00 CEST
    frozen.berlin(2026, 3, 31, 10, 0)
    pending = patch(client, org.agent, ticket, status="PENDING").json
    frozen.berlin(2026, 4, 1, 11, 0)  # Wednesday: 7 h on Tuesday + 2 h paused
    reopened = patch(client, org.agent, pending, status="OPEN")
    assert reopened.status == 200, reopened.body
    # 540 business minutes later than before: Wednesday 09:00-17:00, then Thursday to 10:00.
    assert reopened.json["resolutionDueAt"] == utc(2026, 4, 2, 8, 0)


def test_sweep_marks_each_target_once(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org, other = make_org(), make_org()
    _configure(client, org)
    _configure(client, other)
    frozen.berlin(2026, 3, 31, 9, 0)
    late = create_ticket(client, org.requester, priority="URGENT")  # 60 / 240 minutes
    answered = create_ticket(client, org.requester, priority="URGENT")
    assert comment(client, org.agent, answered["id"], "hello").status == 201

    frozen.berlin(2026, 3, 31, 10, 30)  # first response overdue for `late` only
    assert sla_sweep.sweep().breached == 1
    fresh_elsewhere = create_ticket(client, other.requester, priority="NORMAL")  # due 14:30+
    frozen.berlin(2026, 3, 31, 14, 0)  # now both resolutions are overdue as well
    assert sla_sweep.sweep().breached == 2
    assert sla_sweep.sweep().breached == 0  # a re-run writes nothing

    assert _get(client, org, late["id"])["slaState"] == "breached"
    assert _get(client, org, answered["id"])["slaState"] == "breached"
    # Due at 14:30, 80% used at 13:42: at risk, not breached, and not swept.
    assert _get(client, other, fresh_elsewhere["id"])["slaState"] == "at_risk"
    events = _events(org, "ticket.sla_breached")
    bodies = sorted(
        (json.loads(event.body)["data"]["ticketId"], json.loads(event.body)["data"]["target"])
        for event in events
    )
    assert bodies == sorted(
        [
            (late["id"], "first_response"),
            (late["id"], "resolution"),
            (answered["id"], "resolution"),
        ]
    )
    records = [r for r in _audit_actions(org) if r.action == "ticket.sla_breached"]
    assert sorted((r.target_id, json.loads(r.details)["after"]["target"]) for r in records) == (
        bodies
    )
    assert {r.actor_id for r in records} == {"system:sla"}
    assert _events(other, "ticket.sla_breached") == []


def test_group_override_applies_to_tickets_of_the_group_and_follows_a_group_change(
    make_org: Callable[..., TestOrg], client: Any, frozen: FrozenClock
) -> None:
    org = make_org()
    token = org.admin.token
    group = client.post("/api/admin/groups", json={"name": "VIP"}, token=token).json
    override = {**POLICY["groupOverrides"][0], "groupId": group["id"]}  # type: ignore[index]
    assert client.put("/api/admin/sla/calendar", json=CALENDAR, token=token).status == 200
    policy = {**POLICY, "groupOverrides": [override]}
    assert client.put("/api/admin/sla/policy", json=policy, token=token).status == 200
    frozen.berlin(2026, 3, 31, 9, 0)
    vip = create_ticket(client, org.agent, requesterId=org.requester.id, groupId=group["id"])
    assert vip["firstResponseDueAt"] == utc(2026, 3, 31, 7, 30)  # 30 business minutes
    assert vip["resolutionDueAt"] is None  # the override has no resolution target
    plain = create_ticket(client, org.requester)
    assert plain["firstResponseDueAt"] == utc(2026, 3, 31, 11, 0)  # NORMAL: 240 minutes
    moved = patch(client, org.agent, plain, groupId=group["id"])
    assert moved.status == 200, moved.body
    assert moved.json["firstResponseDueAt"] == utc(2026, 3, 31, 7, 30)
    assert moved.json["resolutionDueAt"] is None


def test_lists_filter_by_sla_state(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org = make_org()
    _configure(client, org)
    frozen.berlin(2026, 3, 31, 9, 0)
    breached = create_ticket(client, org.requester, priority="URGENT", tags=["sla"])
    met = create_ticket(client, org.requester, priority="URGENT", tags=["sla"])
    assert comment(client, org.agent, met["id"], "fixed").status == 201
    assert patch(client, org.agent, _get(client, org, met["id"]), status="RESOLVED").status == 200
    frozen.berlin(2026, 3, 31, 10, 30)
    assert sla_sweep.sweep().breached == 1  # `breached`: no first response within 60 minutes
    frozen.berlin(2026, 3, 31, 13, 45)
    at_risk = create_ticket(client, org.requester, priority="HIGH", tags=["sla"])  # due 15:45
    create_ticket(client, org.requester, priority="LOW", tags=["sla"])  # no target: no state
    frozen.berlin(2026, 3, 31, 15, 30)  # 105 of 120 minutes used
    ok = create_ticket(client, org.requester, priority="NORMAL", tags=["sla"])

    def listed(query: str) -> set[str]:
        response = client.get(f"/api/tickets?{query}", token=org.agent.token)
        assert response.status == 200, response.body
        return {ticket["id"] for ticket in response.json["items"]}

    for extra in ("", "&sort=updatedAt", "&tag=sla", "&status=OPEN,RESOLVED"):
        assert listed("slaState=breached" + extra) == {breached["id"]}
        assert listed("slaState=met" + extra) == {met["id"]}
        assert listed("slaState=at_risk,ok" + extra) == {at_risk["id"], ok["id"]}
    assert client.get("/api/tickets?slaState=late", token=org.agent.token).status == 400
    # A requester's list is filtered the same way, within their own tickets.
    own = client.get("/api/tickets?slaState=breached", token=org.requester.token)
    assert {ticket["id"] for ticket in own.json["items"]} == {breached["id"]}


def test_lists_sort_by_the_next_due_time(
    client: Any, make_org: Callable[..., TestOrg], frozen: FrozenClock
) -> None:
    org = make_org()
    _configure(client, org)
    frozen.berlin(2026, 3, 31, 9, 0)
    normal = create_ticket(client, org.requester, priority="NORMAL")  # first response 13:00
    none = create_ticket(client, org.requester, priority="LOW")  # nothing due: last
    urgent = create_ticket(client, org.requester, priority="URGENT")  # first response 10:00
    high = create_ticket(client, org.requester, priority="HIGH")  # first response 11:00
    # Answering the urgent one leaves its resolution (13:00) as its next due time: the same time
    # as `normal`'s first response, so the id breaks the tie.
    assert comment(client, org.agent, urgent["id"], "on it").status == 201

    def order(sort: str) -> list[str]:
        response = client.get(f"/api/tickets?sort={sort}&limit=2", token=org.agent.token)
        ids = [t["id"] for t in response.json["items"]]
        cursor = response.json["nextCursor"]
        while cursor:
            response = client.get(
                f"/api/tickets?sort={sort}&limit=2&cursor={cursor}", token=org.agent.token
            )
            ids += [t["id"] for t in response.json["items"]]
            cursor = response.json["nextCursor"]
        return ids

    tied = sorted([normal["id"], urgent["id"]])
    assert order("dueAt") == [high["id"], *tied, none["id"]]
    assert order("-dueAt") == [none["id"], *reversed(tied), high["id"]]
