"""`/api/admin/users`: list, create, change role, deactivate; the last admin stays; all audited."""

from __future__ import annotations

from typing import Any

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import OrganizationModel, UserModel
from tests.support.assertions import assert_error
from tests.support.mail import inbox
from tests.support.orgs import TestOrg

NEW_USER = {"email": "New.Person@Example.com", "name": "New Person", "role": "AGENT"}
PASSWORD = "a-long-enough-password"


def _admins(org_id: str) -> int:
    return int(OrganizationModel.get(org_pk(org_id), "ORG").active_admins)


def test_list_users_of_own_org_only(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    response = client.get("/api/admin/users", token=org.admin.token)
    assert response.status == 200
    ids = {u["id"] for u in response.json["items"]}
    assert ids == {org.admin.id, org.agent.id, org.requester.id}
    assert other.admin.id not in response.body.decode()
    assert all("passwordHash" not in u and "password_hash" not in u for u in response.json["items"])


def test_create_user_invites_them_and_the_setup_link_sets_their_password(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    response = client.post("/api/admin/users", json=NEW_USER, token=org.admin.token)
    assert response.status == 201
    created = response.json
    assert created["email"] == "new.person@example.com"
    assert created["role"] == "AGENT" and created["organizationId"] == org.id
    assert created["invitationSent"] is True
    (invitation,) = inbox("new.person@example.com")
    assert invitation.subject == f"Your invitation to the {org.id.title()} helpdesk"
    assert "/password/setup#token=dgp_" in invitation.text
    # Before setup no password works (the account has an unusable random one).
    login = {"organization": org.id, "email": "NEW.person@example.com", "password": PASSWORD}
    assert client.post("/api/auth/login", json=login).status == 401
    setup = {"token": invitation.token, "newPassword": PASSWORD}
    assert client.post("/api/auth/password-reset/complete", json=setup).status == 204
    logged_in = client.post("/api/auth/login", json=login)
    assert logged_in.status == 200 and logged_in.json["user"]["id"] == created["id"]
    again = client.post("/api/admin/users", json=NEW_USER, token=org.admin.token)
    assert_error(again, 409, "CONFLICT")
    assert len(inbox("new.person@example.com")) == 1  # no second invitation for a conflict
    actions = [r.action for r in audit.AuditRecordModel.query(org_pk(org.id))]
    assert actions.count("user.create") == 4  # the three fixture users and this one
    assert actions.count("user.password_setup") == 1


def test_an_admin_can_no_longer_choose_the_password(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.post(
        "/api/admin/users", json={**NEW_USER, "password": PASSWORD}, token=org.admin.token
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert [d["field"] for d in body["error"]["details"]] == ["password"]
    assert inbox("new.person@example.com") == []


def test_change_role_takes_effect_at_once(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"role": "ADMIN"}, token=org.admin.token
    )
    assert response.status == 200 and response.json["role"] == "ADMIN"
    assert _admins(org.id) == 2
    # The old session carried role AGENT: it no longer matches and must be renewed.
    assert client.get("/api/me", token=org.agent.token).status == 401
    fresh = client.post("/api/auth/login", json=org.agent.login_body()).json["token"]
    assert client.get("/api/admin/users", token=fresh).status == 200


def test_last_active_admin_cannot_demote_or_deactivate_themselves(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    path = f"/api/admin/users/{org.admin.id}"
    assert_error(client.patch(path, json={"role": "AGENT"}, token=org.admin.token), 409, "CONFLICT")
    assert_error(client.patch(path, json={"active": False}, token=org.admin.token), 409, "CONFLICT")
    stored = UserModel.get(org_pk(org.id), f"USER#{org.admin.id}")
    assert stored.role == "ADMIN" and stored.active is True
    assert _admins(org.id) == 1
    # With a second admin, stepping down is allowed, and then the other one is the last.
    second = org.add_user(org.admin.role)
    assert client.patch(path, json={"role": "AGENT"}, token=org.admin.token).status == 200
    assert_error(
        client.patch(f"/api/admin/users/{second.id}", json={"active": False}, token=second.token),
        409,
        "CONFLICT",
    )
    assert _admins(org.id) == 1


def test_deactivate_and_reactivate(client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    path = f"/api/admin/users/{org.requester.id}"
    assert client.patch(path, json={"active": False}, token=org.admin.token).json["active"] is False
    assert client.get("/api/me", token=org.requester.token).status == 401
    assert client.patch(path, json={"active": True}, token=org.admin.token).status == 200
    # Reactivation does not resurrect the old session: it was revoked at deactivation.
    assert client.get("/api/me", token=org.requester.token).status == 401
    import time

    time.sleep(1.01 - time.time() % 1)
    login = client.post(
        "/api/auth/login",
        json=org.requester.login_body(),
    )
    assert login.status == 200


def test_foreign_or_unknown_user_ids_are_404(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    for user_id in (other.agent.id, "0" * 32, "../x"):
        assert_error(
            client.get(f"/api/admin/users/{user_id}", token=org.admin.token), 404, "NOT_FOUND"
        )
        assert_error(
            client.patch(
                f"/api/admin/users/{user_id}", json={"active": False}, token=org.admin.token
            ),
            404,
            "NOT_FOUND",
        )
    assert UserModel.get(org_pk(other.id), f"USER#{other.agent.id}").active is True
