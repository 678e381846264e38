"""`/api/admin/tokens`: secret shown once, hash-only storage, scopes, expiry, rotation."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import override
from chalicelib.identity.models import ApiTokenModel
from tests.support.assertions import assert_error
from tests.support.orgs import TestOrg, mint_api_token

BODY = {"name": "ci pipeline", "scopes": ["tickets:read", "admin:users"], "expiresInDays": 30}


def _epoch(value: str) -> float:
    """A body's ISO 8601 UTC time (the one format of every time in a body) as epoch seconds."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, value
    return parsed.astimezone(UTC).timestamp()


def _create(client: Any, org: TestOrg, **changes: Any) -> Any:
    return client.post("/api/admin/tokens", json={**BODY, **changes}, token=org.admin.token)


def test_create_returns_the_secret_once_and_stores_only_its_hash(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    before = time.time()
    response = _create(client, org)
    assert response.status == 201
    created = response.json
    secret = created["token"]
    assert secret.startswith(created["prefix"] + "_") and created["prefix"].startswith("dgt_")
    assert created["scopes"] == ["admin:users", "tickets:read"]
    assert before - 1 <= _epoch(created["createdAt"]) <= time.time()
    # `expires` is whole seconds, `createdAt` keeps its milliseconds.
    lifetime = _epoch(created["expires"]) - _epoch(created["createdAt"])
    assert 30 * 86400 - 1 < lifetime <= 30 * 86400
    assert created["lastUsed"] is None and created["status"] == "active"

    stored = ApiTokenModel.get(org_pk(org.id), f"APITOKEN#{created['id']}")
    raw = stored.serialize()
    assert secret not in str(raw) and secret.rsplit("_", 1)[-1] not in str(raw)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()

    listed = client.get("/api/admin/tokens", token=org.admin.token)
    assert listed.status == 200
    (item,) = listed.json["items"]
    assert "token" not in item and "secretHash" not in item and secret not in listed.body.decode()
    assert set(item) >= {"id", "name", "prefix", "scopes", "createdAt", "lastUsed", "expires"}


def test_token_works_with_owner_role_and_records_last_use(client: Any, make_org: Any) -> None:
    org = make_org()
    created = _create(client, org).json
    me = client.get("/api/me", token=created["token"])
    assert me.status == 200 and me.json["id"] == org.admin.id
    assert client.get("/api/admin/users", token=created["token"]).status == 200
    (item,) = client.get("/api/admin/tokens", token=org.admin.token).json["items"]
    assert isinstance(item["lastUsed"], str)
    assert _epoch(item["lastUsed"]) >= int(_epoch(created["createdAt"]))


@pytest.mark.parametrize(
    "changes",
    [
        {"scopes": ["tickets:read", "root"]},
        {"scopes": []},
        {"scopes": "tickets:read"},
        {"expiresInDays": 0},
        {"expiresInDays": 91},
        {"expiresInDays": "30"},
        {"name": ""},
    ],
)
def test_invalid_requests_are_400(client: Any, make_org: Any, changes: dict[str, Any]) -> None:
    org = make_org()
    assert_error(_create(client, org, **changes), 400, "VALIDATION_ERROR")
    assert client.get("/api/admin/tokens", token=org.admin.token).json["items"] == []


def test_expiry_is_required_and_capped_by_settings(client: Any, make_org: Any) -> None:
    org = make_org()
    body = {k: v for k, v in BODY.items() if k != "expiresInDays"}
    assert_error(
        client.post("/api/admin/tokens", json=body, token=org.admin.token), 400, "VALIDATION_ERROR"
    )
    with override(api_token_max_days=7):
        assert_error(_create(client, org, expiresInDays=8), 400, "VALIDATION_ERROR")
        assert _create(client, org, expiresInDays=7).status == 201


def test_scopes_narrow_the_token(client: Any, make_org: Any) -> None:
    org = make_org()
    read_only = _create(client, org, scopes=["tickets:read"]).json["token"]
    assert client.get("/api/me", token=read_only).status == 200
    assert_error(client.get("/api/admin/users", token=read_only), 403, "FORBIDDEN")


def test_rights_are_scopes_intersected_with_the_owner_current_role(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    second_admin = org.add_user(org.admin.role)
    token = client.post("/api/admin/tokens", json=BODY, token=second_admin.token).json["token"]
    assert client.get("/api/admin/users", token=token).status == 200
    demoted = client.patch(
        f"/api/admin/users/{second_admin.id}", json={"role": "AGENT"}, token=org.admin.token
    )
    assert demoted.status == 200
    # Same token, same scope; the owner is an agent now, so admin routes are closed to it.
    assert_error(client.get("/api/admin/users", token=token), 403, "FORBIDDEN")
    assert client.get("/api/me", token=token).status == 200


def test_requester_owned_token_with_admin_scope_gets_no_admin_rights(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    token = mint_api_token(org.requester, ["admin:users", "tickets:read"])
    assert client.get("/api/me", token=token).json["role"] == "REQUESTER"
    assert_error(client.get("/api/admin/users", token=token), 403, "FORBIDDEN")


def test_api_tokens_cannot_manage_tokens_or_log_out(client: Any, make_org: Any) -> None:
    org = make_org()
    token = _create(client, org, scopes=sorted({"admin:users", "admin:tokens"})).json["token"]
    assert_error(client.post("/api/admin/tokens", json=BODY, token=token), 403, "FORBIDDEN")
    assert_error(client.get("/api/admin/tokens", token=token), 403, "FORBIDDEN")
    assert_error(client.post("/api/auth/logout", token=token), 403, "FORBIDDEN")


def test_rotation_and_revocation_show_in_the_listing(client: Any, make_org: Any) -> None:
    org = make_org()
    first = _create(client, org).json
    second = client.post(f"/api/admin/tokens/{first['id']}/rotate", token=org.admin.token).json
    assert second["name"] == first["name"] and second["scopes"] == first["scopes"]
    statuses = {
        item["id"]: item["status"]
        for item in client.get("/api/admin/tokens", token=org.admin.token).json["items"]
    }
    assert statuses == {first["id"]: "rotating", second["id"]: "active"}
    assert client.delete(f"/api/admin/tokens/{second['id']}", token=org.admin.token).status == 204
    assert client.delete(f"/api/admin/tokens/{second['id']}", token=org.admin.token).status == 204
    items = client.get("/api/admin/tokens", token=org.admin.token).json["items"]
    assert {i["id"]: i["status"] for i in items}[second["id"]] == "revoked"


def test_unknown_and_foreign_token_ids_are_404(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    foreign = _create(client, other).json
    for path in (f"/api/admin/tokens/{foreign['id']}", "/api/admin/tokens/0123456789abcdef"):
        assert_error(client.delete(path, token=org.admin.token), 404, "NOT_FOUND")
    assert_error(
        client.post(f"/api/admin/tokens/{foreign['id']}/rotate", token=org.admin.token),
        404,
        "NOT_FOUND",
    )
    assert client.get("/api/me", token=foreign["token"]).status == 200  # untouched


def test_token_list_pages_with_an_org_bound_cursor(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    ids = {_create(client, org, name=f"t{i}").json["id"] for i in range(3)}
    first = client.get("/api/admin/tokens?limit=2", token=org.admin.token).json
    assert len(first["items"]) == 2 and first["nextCursor"]
    cursor = first["nextCursor"]
    second = client.get(f"/api/admin/tokens?limit=2&cursor={cursor}", token=org.admin.token).json
    assert {i["id"] for i in first["items"] + second["items"]} == ids
    # Another organization's admin cannot use it, and a tampered cursor is refused.
    foreign = client.get(f"/api/admin/tokens?cursor={cursor}", token=other.admin.token)
    assert_error(foreign, 400, "VALIDATION_ERROR")
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    assert_error(
        client.get(f"/api/admin/tokens?cursor={tampered}", token=org.admin.token),
        400,
        "VALIDATION_ERROR",
    )
    for bad in ("0", "101", "x"):
        assert_error(
            client.get(f"/api/admin/tokens?limit={bad}", token=org.admin.token),
            400,
            "VALIDATION_ERROR",
        )
