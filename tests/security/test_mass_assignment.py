"""Fields a client must never set (role, organizationId, passwordHash, id, owner...) are refused
with 400, and the stored items prove nothing changed."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import ApiTokenModel, EmailClaimModel, UserModel
from tests.support.assertions import assert_error

FORBIDDEN_USER_FIELDS = [
    {"organizationId": "other-org"},
    {"passwordHash": "$2b$04$abcdefghijklmnopqrstuv"},
    {"password_hash": "x"},
    {"id": "0" * 32},
    {"active": False},
    {"failedLogins": 0},
    # Invited users choose their own password: an admin can no longer set one.
    {"password": "an-admin-chosen-password"},  # pragma: allowlist secret
    {"passwordVersion": 0},
]


@pytest.mark.parametrize("extra", FORBIDDEN_USER_FIELDS)
def test_create_user_refuses_server_fields(
    client: Any, make_org: Any, extra: dict[str, Any]
) -> None:
    org = make_org()
    body = {
        "email": "victim@example.com",
        "name": "V",
        "role": "REQUESTER",
        **extra,
    }
    response = client.post("/api/admin/users", json=body, token=org.admin.token)
    details = assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]
    assert next(iter(extra)) in {d["field"] for d in details}
    assert (
        EmailClaimModel.count(org_pk(org.id), EmailClaimModel.sk == "EMAIL#victim@example.com") == 0
    )
    assert len(list(UserModel.query(org_pk(org.id), UserModel.sk.startswith("USER#")))) == 3
    assert len(list(UserModel.query(org_pk("other-org")))) == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"organizationId": "other-org"},
        {"passwordHash": "x"},
        {"id": "0" * 32},
        {"email": "taken@example.com"},
        {"role": "OWNER"},
        {"role": "admin"},
    ],
)
def test_update_user_refuses_server_fields(
    client: Any, make_org: Any, extra: dict[str, Any]
) -> None:
    org = make_org()
    before = UserModel.get(org_pk(org.id), f"USER#{org.agent.id}").serialize()
    response = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"name": "Changed", **extra}, token=org.admin.token
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert UserModel.get(org_pk(org.id), f"USER#{org.agent.id}").serialize() == before


def test_requester_cannot_promote_self(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.patch(
        f"/api/admin/users/{org.requester.id}", json={"role": "ADMIN"}, token=org.requester.token
    )
    assert_error(response, 403, "FORBIDDEN")
    assert UserModel.get(org_pk(org.id), f"USER#{org.requester.id}").role == "REQUESTER"


@pytest.mark.parametrize(
    "extra",
    [
        {"organizationId": "other-org"},
        {"ownerId": "0" * 32},
        {"userId": "0" * 32},
        {"id": "0123456789abcdef"},
        {"secretHash": "0" * 64},
        {"lastUsed": 1},
    ],
)
def test_create_token_refuses_server_fields(
    client: Any, make_org: Any, extra: dict[str, Any]
) -> None:
    org = make_org()
    body = {"name": "n", "scopes": ["tickets:read"], "expiresInDays": 1, **extra}
    response = client.post("/api/admin/tokens", json=body, token=org.admin.token)
    assert_error(response, 400, "VALIDATION_ERROR")
    assert list(ApiTokenModel.query(org_pk(org.id), ApiTokenModel.sk.startswith("APITOKEN#"))) == []


def test_login_body_cannot_carry_role_or_org(client: Any, make_org: Any) -> None:
    org = make_org()
    for extra in ({"role": "ADMIN"}, {"organizationId": "x"}):
        response = client.post(
            "/api/auth/login",
            json={**org.requester.login_body(), **extra},
        )
        assert_error(response, 400, "VALIDATION_ERROR")
