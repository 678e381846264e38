"""Containment: probing credentials are reported and cut off; honest mistakes never are."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity.models import USER_PREFIX
from chalicelib.identity.revocation import UserRevocationModel
from chalicelib.tickets.models import new_id
from tests.support.audit import audit_scenario
from tests.support.logcheck import events_since
from tests.support.orgs import TestUser, mint_api_token
from tests.support.tickets import create_ticket


def _suspicious(mark: int) -> list[dict[str, Any]]:
    return events_since(mark, "security.suspicious_activity")


def _second_session(client: Any, user: TestUser) -> str:
    response = client.post("/api/auth/login", json=user.login_body())
    assert response.status == 200
    token: str = response.json["token"]
    return token


def _flags(client: Any, admin: TestUser) -> list[dict[str, Any]]:
    response = client.get("/api/admin/security/flags", token=admin.token)
    assert response.status == 200, response.body
    items: list[dict[str, Any]] = response.json["items"]
    return items


def test_nonexistent_ids_never_count(client: Any, make_org: Any, log_mark: int) -> None:
    org = make_org()
    create_ticket(client, org.agent)  # the organization has tickets; these ids are not theirs
    api_token = mint_api_token(org.admin, ["tickets:read"])
    for credential in (org.agent.token, api_token):
        statuses = {
            client.get(f"/api/tickets/{new_id()}", token=credential).status for _ in range(200)
        }
        assert statuses == {404}
        assert client.get("/api/tickets", token=credential).status == 200
    assert client.get("/api/me", token=org.agent.token).status == 200
    assert _suspicious(log_mark) == []
    assert _flags(client, org.admin) == []
    # Each 404 is still logged as an authorization failure of its own.
    assert len(events_since(log_mark, "security.authorization_failure")) == 400
    # Nothing was revoked: no revoke-all marker for either owner.
    for user in (org.agent, org.admin):
        assert (
            UserRevocationModel.count(
                org_pk(org.id), UserRevocationModel.sk == USER_PREFIX + user.id
            )
            == 0
        )


def test_three_foreign_ids_make_one_event(client: Any, make_org: Any, log_mark: int) -> None:
    victim, attacker = make_org(), make_org()
    tickets = [create_ticket(client, victim.requester)["id"] for _ in range(3)]
    statuses = [
        client.get(f"/api/tickets/{tid}", token=attacker.admin.token).status for tid in tickets
    ]
    assert statuses == [404, 404, 404]  # existence elsewhere never leaks to the caller
    events = _suspicious(log_mark)
    assert len(events) == 1
    assert events[0]["reason"] == "probing" and events[0]["kind"] == "cross_org"
    assert events[0]["user_id"] == attacker.admin.id
    assert events[0]["organization_id"] == attacker.id
    assert events[0]["token_type"] == "session"
    # Nothing of the victim organization is in the event.
    assert victim.id not in str(events[0])
    assert client.get("/api/me", token=attacker.admin.token).status == 200


def test_threshold_contains_only_the_probing_session(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    victim, home = make_org(), make_org()
    prober = home.agent
    other_session = _second_session(client, prober)
    other_token = mint_api_token(prober, ["tickets:read"])
    foreign = create_ticket(client, victim.requester)["id"]
    statuses = [
        client.get(f"/api/tickets/{foreign}/comments", token=prober.token).status
        for _ in range(settings.containment_revoke_threshold)
    ]
    assert statuses == [404] * settings.containment_revoke_threshold
    # That session is cut off...
    assert client.get("/api/me", token=prober.token).status == 401
    # ...the same user's other session and API token keep working.
    assert client.get("/api/me", token=other_session).status == 200
    assert client.get("/api/tickets", token=other_token).status == 200
    reasons = [e["reason"] for e in _suspicious(log_mark)]
    assert reasons == ["probing", "credential_contained"]
    # The flag is listed for the organization's admins, then cleared; each step audited.
    flags = _flags(client, home.admin)
    assert [(f["userId"], f["subjectType"], f["kind"], f["status"]) for f in flags] == [
        (prober.id, "session", "cross_org", "open")
    ]
    assert flags[0]["signals"] == settings.containment_revoke_threshold
    cleared = client.post(
        f"/api/admin/security/flags/{flags[0]['id']}/clear", token=home.admin.token
    )
    assert cleared.status == 200, cleared.body
    assert cleared.json["status"] == "cleared" and cleared.json["clearedBy"] == home.admin.id
    again = client.post(f"/api/admin/security/flags/{flags[0]['id']}/clear", token=home.admin.token)
    assert again.status == 409
    assert [f["status"] for f in _flags(client, home.admin)] == ["cleared"]
    # Clearing reviews the incident; it does not revive the revoked session.
    assert client.get("/api/me", token=prober.token).status == 401
    audit = client.get("/api/admin/audit?limit=100", token=home.admin.token).json["items"]
    actions = [(i["action"], i["actorId"]) for i in audit]
    assert ("security.flag_raised", "system:containment") in actions
    assert ("security.flags_listed", home.admin.id) in actions
    assert ("security.flag_cleared", home.admin.id) in actions
    cleared_record = next(i for i in audit if i["action"] == "security.flag_cleared")
    assert cleared_record["targetType"] == "session"


def test_probing_api_token_is_revoked_and_listed_as_revoked(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    victim, home = make_org(), make_org()
    probing = mint_api_token(home.admin, ["tickets:read"])
    spare = mint_api_token(home.admin, ["tickets:read"])
    foreign = create_ticket(client, victim.requester)["id"]
    for _ in range(settings.containment_revoke_threshold):
        assert client.get(f"/api/tickets/{foreign}", token=probing).status == 404
    assert client.get("/api/tickets", token=probing).status == 401
    assert client.get("/api/tickets", token=spare).status == 200
    assert client.get("/api/me", token=home.admin.token).status == 200
    probing_id = probing.split("_")[1]
    listed = {
        t["id"]: t for t in client.get("/api/admin/tokens", token=home.admin.token).json["items"]
    }
    assert listed[probing_id]["status"] == "revoked"
    assert listed[spare.split("_")[1]]["status"] == "active"
    events = _suspicious(log_mark)
    assert [e["reason"] for e in events] == ["probing", "credential_contained"]
    assert events[1]["token_id"] == probing_id
    flags = _flags(client, home.admin)
    assert [(f["subjectType"], f["subjectId"]) for f in flags] == [("api_token", probing_id)]


def test_repeated_cross_org_signals_widen_to_the_account(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    victim, home = make_org(), make_org()
    prober = home.agent
    foreign = create_ticket(client, victim.requester)["id"]
    sessions = [prober.token]
    signals = 0
    while signals < settings.containment_account_threshold:
        token = sessions[-1]
        for _ in range(settings.containment_revoke_threshold):
            client.get(f"/api/tickets/{foreign}", token=token)
            signals += 1
            if signals == settings.containment_account_threshold:
                break
        sessions.append(_second_session(client, prober))
    # Every credential issued before the widening is dead, the fresh login after it works.
    assert all(client.get("/api/me", token=t).status == 401 for t in sessions[:-1])
    reasons = [e["reason"] for e in _suspicious(log_mark)]
    assert reasons.count("account_contained") == 1
    marker = UserRevocationModel.get(org_pk(home.id), USER_PREFIX + prober.id)
    assert marker.reason == "containment:cross_org"
    kinds = {(f["subjectType"], f["subjectId"]) for f in _flags(client, home.admin)}
    assert ("user", prober.id) in kinds
    assert client.get("/api/me", token=home.admin.token).status == 200


def test_foreign_cursor_counts_forbidden_reads_do_not(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    victim, home = make_org(), make_org()
    audit_scenario(victim)
    foreign_cursor = client.get("/api/admin/audit?limit=1", token=victim.admin.token).json[
        "nextCursor"
    ]
    # An agent who clicks the admin audit page over and over is refused, never contained.
    for _ in range(3 * settings.containment_revoke_threshold):
        assert client.get("/api/admin/audit", token=home.agent.token).status == 403
    assert client.get("/api/me", token=home.agent.token).status == 200
    assert _suspicious(log_mark) == []
    for _ in range(settings.containment_suspicious_threshold):
        response = client.get(
            f"/api/admin/audit?limit=1&cursor={foreign_cursor}", token=home.admin.token
        )
        assert response.status == 400
    assert [(e["reason"], e["kind"]) for e in _suspicious(log_mark)] == [("probing", "cross_org")]


def test_forged_cursor_and_forbidden_writes_count(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    org = make_org()
    requester = org.requester
    # Repeated forbidden writes (bulk actions are for staff): contained at the threshold.
    for _ in range(settings.containment_revoke_threshold):
        response = client.post(
            "/api/tickets/bulk",
            json={"ids": [new_id()], "action": "set_status", "status": "CLOSED"},
            token=requester.token,
        )
        assert response.status == 403
    assert client.get("/api/me", token=requester.token).status == 401
    assert [(e["reason"], e["kind"]) for e in _suspicious(log_mark)] == [
        ("probing", "forbidden_write"),
        ("credential_contained", "forbidden_write"),
    ]
    agent = org.agent
    forged = "eyJmYWtlIjoxfQ.AAAA"
    for _ in range(settings.containment_suspicious_threshold):
        assert client.get(f"/api/tickets?cursor={forged}", token=agent.token).status == 400
    kinds = [e["kind"] for e in _suspicious(log_mark) if e["user_id"] == agent.id]
    assert kinds == ["tampered_cursor"]


def test_forged_api_token_is_reported_per_ip_and_revokes_nothing(
    client: Any, make_org: Any, log_mark: int
) -> None:
    settings = get_settings()
    org = make_org()
    real = mint_api_token(org.admin, ["tickets:read"])
    forged = real[:-43] + secrets.token_urlsafe(32)[:43]
    for _ in range(settings.containment_revoke_threshold):
        assert client.get("/api/tickets", token=forged, source_ip="198.51.100.66").status == 401
    events = _suspicious(log_mark)
    assert [(e["reason"], e["ip"]) for e in events] == [("forged_credentials", "198.51.100.66")]
    # The token whose id was guessed at keeps working: forging cannot get it revoked.
    assert client.get("/api/tickets", token=real).status == 200


def test_flags_routes_are_admin_session_only(client: Any, make_org: Any) -> None:
    org = make_org()
    assert client.get("/api/admin/security/flags", token=org.agent.token).status == 403
    admin_token = mint_api_token(org.admin, ["admin:users", "admin:audit"])
    assert client.get("/api/admin/security/flags", token=admin_token).status == 403
    other = make_org()
    other.add_user(Role.ADMIN)
    missing = client.post(f"/api/admin/security/flags/{'0' * 32}/clear", token=org.admin.token)
    assert missing.status == 404


def test_revocation_cuts_credentials_issued_before_it(client: Any, make_org: Any) -> None:
    from chalicelib.identity.revocation import revoke_all_for_user

    org = make_org()
    revoke_all_for_user(org.id, org.agent.id, "admin:manual")
    assert client.get("/api/me", token=org.agent.token).status == 401
    marker = UserRevocationModel.get(org_pk(org.id), USER_PREFIX + org.agent.id)
    assert marker.reason == "admin:manual"


def test_foreign_user_ids_count_missing_ones_do_not(
    client: Any, make_org: Any, log_mark: int
) -> None:
    victim, home = make_org(), make_org()
    for _ in range(20):
        assert client.get(f"/api/admin/users/{new_id()}", token=home.admin.token).status == 404
    assert _suspicious(log_mark) == []
    for user in (victim.admin, victim.agent, victim.requester):
        response = client.get(f"/api/admin/users/{user.id}", token=home.admin.token)
        assert response.status == 404
    events = _suspicious(log_mark)
    assert [(e["reason"], e["kind"]) for e in events] == [("probing", "cross_org")]
    assert client.get("/api/me", token=home.admin.token).status == 200
