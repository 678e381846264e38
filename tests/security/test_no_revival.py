"""What was cut off stays cut off: role changes end old sessions, revoked tokens are listed as
revoked and cannot be rotated into a working successor; rotations are audited on the rotated
token."""

from __future__ import annotations

from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.identity.revocation import revoke_all_for_user
from tests.support.orgs import TestUser


def _login(client: Any, user: TestUser) -> str:
    response = client.post("/api/auth/login", json=user.login_body())
    assert response.status == 200
    token: str = response.json["token"]
    return token


def _set_role(client: Any, admin: TestUser, user: TestUser, role: str) -> None:
    response = client.patch(f"/api/admin/users/{user.id}", json={"role": role}, token=admin.token)
    assert response.status == 200, response.body


def test_demote_then_promote_does_not_revive_an_old_session(client: Any, make_org: Any) -> None:
    org = make_org()
    agent = org.agent
    old_session = agent.token
    _set_role(client, org.admin, agent, "REQUESTER")
    assert client.get("/api/me", token=old_session).status == 401
    as_requester = _login(client, agent)
    assert client.get("/api/me", token=as_requester).json["role"] == "REQUESTER"
    _set_role(client, org.admin, agent, "AGENT")
    # Both sessions issued before the latest role change are dead, even the one whose role
    # claim matches again; a new login works at once.
    assert client.get("/api/me", token=old_session).status == 401
    assert client.get("/api/me", token=as_requester).status == 401
    fresh = _login(client, agent)
    assert client.get("/api/me", token=fresh).json["role"] == "AGENT"


def test_a_name_change_keeps_sessions(client: Any, make_org: Any) -> None:
    org = make_org()
    renamed = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"name": "New Name"}, token=org.admin.token
    )
    assert renamed.status == 200
    assert client.get("/api/me", token=org.agent.token).status == 200


def _create_token(client: Any, admin: TestUser, name: str = "ci") -> dict[str, Any]:
    response = client.post(
        "/api/admin/tokens",
        json={"name": name, "scopes": ["tickets:read"], "expiresInDays": 30},
        token=admin.token,
    )
    assert response.status == 201, response.body
    token: dict[str, Any] = response.json
    return token


def _listed(client: Any, admin: TestUser) -> dict[str, str]:
    items = client.get("/api/admin/tokens", token=admin.token).json["items"]
    return {item["id"]: item["status"] for item in items}


def test_deactivation_revokes_tokens_for_good(client: Any, make_org: Any) -> None:
    org = make_org()
    owner = org.add_user(Role.ADMIN)
    token = _create_token(client, owner)
    assert client.get("/api/tickets", token=token["token"]).status == 200
    deactivate = client.patch(
        f"/api/admin/users/{owner.id}", json={"active": False}, token=org.admin.token
    )
    assert deactivate.status == 200
    assert _listed(client, org.admin)[token["id"]] == "revoked"
    reactivate = client.patch(
        f"/api/admin/users/{owner.id}", json={"active": True}, token=org.admin.token
    )
    assert reactivate.status == 200
    # Reactivation does not revive it: listed as revoked, refused, and no successor is issued.
    assert _listed(client, org.admin)[token["id"]] == "revoked"
    assert client.get("/api/tickets", token=token["token"]).status == 401
    rotate = client.post(f"/api/admin/tokens/{token['id']}/rotate", token=org.admin.token)
    assert rotate.status == 409
    assert len(_listed(client, org.admin)) == 1  # no successor was created


def test_contained_account_tokens_are_listed_revoked_and_not_rotatable(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    token = _create_token(client, org.admin)
    spare_admin = org.add_user(Role.ADMIN)
    revoke_all_for_user(
        org.id, org.admin.id, "containment:cross_org", actor_id="system:containment"
    )
    assert _listed(client, spare_admin)[token["id"]] == "revoked"
    rotate = client.post(f"/api/admin/tokens/{token['id']}/rotate", token=spare_admin.token)
    assert rotate.status == 409
    # A token the admin creates after the containment works and is listed as active.
    fresh = _create_token(client, spare_admin, "after")
    assert _listed(client, spare_admin)[fresh["id"]] == "active"


def test_rotation_audit_names_the_rotated_token(client: Any, make_org: Any) -> None:
    org = make_org()
    token = _create_token(client, org.admin)
    rotated = client.post(f"/api/admin/tokens/{token['id']}/rotate", token=org.admin.token)
    assert rotated.status == 201
    successor = rotated.json["id"]
    history = client.get(
        f"/api/admin/audit?targetType=api_token&targetId={token['id']}", token=org.admin.token
    ).json["items"]
    assert [item["action"] for item in history] == ["api_token.rotate", "api_token.create"]
    record = history[0]
    assert record["before"] == {"status": "active"}
    assert record["after"]["status"] == "rotating"
    assert record["after"]["successorId"] == successor
    assert record["after"]["graceUntil"] > 0
    statuses = _listed(client, org.admin)
    assert statuses == {token["id"]: "rotating", successor: "active"}
