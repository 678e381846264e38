"""Containment: a principal that keeps probing is reported, then its credentials stop working."""

from __future__ import annotations

from typing import Any

from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity.models import USER_PREFIX
from chalicelib.identity.revocation import UserRevocationModel
from tests.support.audit import audit_scenario
from tests.support.logcheck import events_since


def _suspicious(mark: int) -> list[dict[str, Any]]:
    return events_since(mark, "security.suspicious_activity")


def test_cross_org_probe_trips_threshold_and_token_dies(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    victim, attacker_org = make_org(), make_org()
    audit_scenario(victim)
    attacker = attacker_org.admin
    # The probe: replay the victim organization's audit cursor with the attacker's own token.
    foreign_cursor = client.get("/api/admin/audit?limit=1", token=victim.admin.token).json[
        "nextCursor"
    ]
    statuses = []
    for attempt in range(1, settings.containment_revoke_threshold + 1):
        response = client.get(
            f"/api/admin/audit?limit=1&cursor={foreign_cursor}", token=attacker.token
        )
        statuses.append(response.status)
        events = _suspicious(log_mark)
        # Reported exactly once on reaching the first threshold, before anything is revoked.
        if attempt < settings.containment_suspicious_threshold:
            assert events == []
        elif attempt < settings.containment_revoke_threshold:
            assert [e["reason"] for e in events] == ["repeated_denials"]
    assert statuses == [400] * settings.containment_revoke_threshold
    # Over the second threshold: the prober's token stops working, everywhere.
    assert client.get("/api/me", token=attacker.token).status == 401
    assert client.get("/api/admin/audit", token=attacker.token).status == 401
    events = _suspicious(log_mark)
    assert [e["reason"] for e in events] == ["repeated_denials", "credentials_revoked"]
    assert all(e["user_id"] == attacker.id for e in events)
    assert all(e["organization_id"] == attacker_org.id for e in events)
    assert events[0]["kind"] == "cross_org"
    assert events[1]["flagged_for_review"] is True
    # Only the prober is cut off; the account is flagged and the revocation is audited.
    assert client.get("/api/me", token=attacker_org.agent.token).status == 200
    assert client.get("/api/me", token=victim.admin.token).status == 200
    # The revoke-all marker is the review flag: its reason names containment and the probe kind.
    marker = UserRevocationModel.get(org_pk(attacker_org.id), USER_PREFIX + attacker.id)
    assert marker.reason == "containment:cross_org"
    history = client.get("/api/admin/audit", token=attacker_org.admin.token)
    assert history.status == 401  # the attacker was that org's admin: use another admin
    admin2 = attacker_org.add_user(attacker.role)
    items = client.get("/api/admin/audit", token=admin2.token).json["items"]
    # Newest first: admin2's creation, the containment revocation, then the org's setup records.
    assert [(i["action"], i["targetId"], i["actorId"]) for i in items[:2]] == [
        ("user.create", admin2.id, "system"),  # the test factory creates users as the system
        ("user.revoke_all_credentials", attacker.id, "system:containment"),
    ]
    assert {i["action"] for i in items[2:]} == {"user.create"}
    # The victim's records were never shown to the attacker.
    assert client.get("/api/admin/audit/verify", token=admin2.token).json["ok"] is True


def test_repeated_forbidden_requests_revoke(client: Any, make_org: Any, log_mark: int) -> None:
    settings = get_settings()
    org = make_org()
    prober = org.requester
    statuses = [
        client.get("/api/admin/audit/verify", token=prober.token).status
        for _ in range(settings.containment_revoke_threshold)
    ]
    assert statuses == [403] * settings.containment_revoke_threshold
    assert client.get("/api/me", token=prober.token).status == 401
    events = _suspicious(log_mark)
    assert [(e["reason"], e["kind"]) for e in events] == [
        ("repeated_denials", "forbidden"),
        ("credentials_revoked", "forbidden"),
    ]


def test_below_threshold_nothing_happens(client: Any, make_org: Any, log_mark: int) -> None:
    settings = get_settings()
    org = make_org()
    for _ in range(settings.containment_suspicious_threshold - 1):
        assert client.get("/api/admin/audit", token=org.agent.token).status == 403
    assert client.get("/api/me", token=org.agent.token).status == 200
    assert _suspicious(log_mark) == []
    # Every denial is still an authorization_failure event of its own.
    failures = events_since(log_mark, "security.authorization_failure")
    assert len(failures) == settings.containment_suspicious_threshold - 1


def test_revocation_cuts_credentials_issued_before_it(client: Any, make_org: Any) -> None:
    from chalicelib.identity.revocation import revoke_all_for_user

    org = make_org()
    revoke_all_for_user(org.id, org.agent.id, "admin:manual")
    assert client.get("/api/me", token=org.agent.token).status == 401
    marker = UserRevocationModel.get(org_pk(org.id), USER_PREFIX + org.agent.id)
    assert marker.reason == "admin:manual"
