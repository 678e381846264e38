"""Forged, stale and revoked credentials: every one is a plain 401 in the contract's shape."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.auth import jwt_codec
from chalicelib.auth.sessions import REQUIRED_CLAIMS
from chalicelib.core import keyring
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import override
from chalicelib.identity.models import USER_PREFIX, ApiTokenModel, UserModel
from chalicelib.identity.revocation import revoke_all_for_user
from tests.support.assertions import assert_error
from tests.support.events import all_log_text, read_events
from tests.support.orgs import TestOrg, TestUser, mint_api_token
from tests.support.tokens import (
    claims_of,
    foreign_key,
    hs256_with_public_key,
    now,
    sign,
    unsigned,
)


def _rejected(client: Any, token: str) -> None:
    assert_error(client.get("/api/me", token=token), 401, "UNAUTHENTICATED")


def _accepted(client: Any, token: str) -> dict[str, Any]:
    response = client.get("/api/me", token=token)
    assert response.status == 200, response.body
    return dict(response.json)


def test_control_a_real_session_and_a_resigned_copy_work(client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    assert _accepted(client, org.agent.token)["id"] == org.agent.id
    # Re-signing the unchanged claims with the real key must work, or the forgeries prove nothing.
    assert _accepted(client, sign(claims_of(org.agent.token)))["id"] == org.agent.id


def test_alg_none_is_rejected(client: Any, make_org: Any) -> None:
    claims = claims_of(make_org().agent.token)
    for alg in ("none", "None", "NONE"):
        _rejected(
            client,
            unsigned({"alg": alg, "typ": "JWT", "kid": keyring.keyring().active_kid}, claims),
        )


def test_hs256_signed_with_the_public_key_is_rejected(client: Any, make_org: Any) -> None:
    _rejected(client, hs256_with_public_key(claims_of(make_org().agent.token)))


@pytest.mark.parametrize(
    "kid", ["unknown-kid", "../../../../etc/passwd", "/dev/null", "local-ephemeral/../x", ""]
)
def test_unknown_or_path_like_kid_is_rejected(client: Any, make_org: Any, kid: str) -> None:
    claims = claims_of(make_org().agent.token)
    _rejected(client, sign(claims, kid=kid or "x"))


def test_non_string_kid_and_missing_kid_are_rejected(client: Any, make_org: Any) -> None:
    from tests.support.tokens import b64

    claims = claims_of(make_org().agent.token)
    _, key = keyring.keyring().signing_key()
    head = b64(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": 7}).encode())
    body = b64(json.dumps(claims).encode())
    signature = b64(key.sign(f"{head}.{body}".encode()).signature)
    _rejected(client, f"{head}.{body}.{signature}")
    _rejected(client, jwt_codec.JWT.encode(claims, key, algorithm="EdDSA"))  # no kid at all


def test_valid_kid_but_foreign_signing_key_is_rejected(client: Any, make_org: Any) -> None:
    _rejected(client, sign(claims_of(make_org().agent.token), key=foreign_key()))


def test_expired_token_is_rejected(client: Any, make_org: Any) -> None:
    claims = claims_of(make_org().agent.token)
    claims.update(iat=now() - 7200, nbf=now() - 7200, exp=now() - 120)  # beyond the 30 s leeway
    _rejected(client, sign(claims))


def test_not_yet_valid_token_is_rejected(client: Any, make_org: Any) -> None:
    claims = claims_of(make_org().agent.token)
    claims.update(nbf=now() + 600)
    _rejected(client, sign(claims))
    claims = claims_of(make_org().agent.token)
    claims.update(iat=now() + 600, nbf=now() + 600)
    _rejected(client, sign(claims))


@pytest.mark.parametrize("claim,value", [("iss", "evil-issuer"), ("aud", "another-api")])
def test_wrong_issuer_or_audience_is_rejected(
    client: Any, make_org: Any, claim: str, value: str
) -> None:
    claims = claims_of(make_org().agent.token)
    claims[claim] = value
    _rejected(client, sign(claims))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_missing_required_claim_is_rejected(client: Any, make_org: Any, claim: str) -> None:
    claims = claims_of(make_org().agent.token)
    del claims[claim]
    _rejected(client, sign(claims))


def test_tampered_payload_is_rejected(client: Any, make_org: Any) -> None:
    org = make_org()
    head, _, sig = org.requester.token.split(".")
    claims = claims_of(org.requester.token)
    claims["role"] = "ADMIN"
    from tests.support.tokens import b64

    forged = f"{head}.{b64(json.dumps(claims).encode())}.{sig}"
    _rejected(client, forged)
    assert client.get("/api/admin/users", token=forged).status == 401


def test_role_claim_must_match_the_stored_role(client: Any, make_org: Any) -> None:
    """Even a correctly signed token cannot claim a role the user does not hold now."""
    org = make_org()
    claims = claims_of(org.requester.token)
    claims["role"] = "ADMIN"
    _rejected(client, sign(claims))


def test_cross_org_claim_is_rejected(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    claims = claims_of(org.admin.token)
    claims["organizationId"] = other.id
    _rejected(client, sign(claims))


def test_deleted_user_token_is_rejected(client: Any, make_org: Any) -> None:
    org = make_org()
    _accepted(client, org.agent.token)
    UserModel(org_pk(org.id), f"{USER_PREFIX}{org.agent.id}").delete()
    _rejected(client, org.agent.token)


def test_deactivated_user_token_and_api_token_stop_at_once(client: Any, make_org: Any) -> None:
    org = make_org()
    api_token = mint_api_token(org.agent, ["tickets:read"])
    _accepted(client, org.agent.token)
    _accepted(client, api_token)
    response = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"active": False}, token=org.admin.token
    )
    assert response.status == 200 and response.json["active"] is False
    _rejected(client, org.agent.token)
    _rejected(client, api_token)
    login = client.post("/api/auth/login", json=org.agent.login_body())
    assert_error(login, 401, "UNAUTHENTICATED")


def test_logout_revokes_the_jti_at_once(client: Any, make_org: Any) -> None:
    org = make_org()
    other_session = client.post("/api/auth/login", json=org.agent.login_body()).json["token"]
    response = client.post("/api/auth/logout", token=org.agent.token)
    assert response.status == 204
    assert "Max-Age=0" in (response.header("Set-Cookie") or "")
    _rejected(client, org.agent.token)
    assert client.post("/api/auth/logout", token=org.agent.token).status == 401
    # Only that session: the user's other session still works.
    _accepted(client, other_session)


def _next_second() -> None:
    time.sleep(1.01 - time.time() % 1)


def test_revoke_all_for_user_kills_sessions_and_api_tokens(client: Any, make_org: Any) -> None:
    org = make_org()
    api_token = mint_api_token(org.agent, ["tickets:read"])
    bystander = org.add_user(org.agent.role)
    revoke_all_for_user(org.id, org.agent.id, "incident-42")
    _rejected(client, org.agent.token)
    _rejected(client, api_token)
    _accepted(client, bystander.token)
    # Credentials issued afterwards work (iat has one-second resolution).
    _next_second()
    fresh = client.post("/api/auth/login", json=org.agent.login_body())
    assert fresh.status == 200
    _accepted(client, fresh.json["token"])
    _accepted(client, mint_api_token(org.agent, ["tickets:read"]))


def _create_token(client: Any, admin: TestUser, **body: Any) -> dict[str, Any]:
    payload = {"name": "ci", "scopes": ["tickets:read", "admin:users"], "expiresInDays": 7}
    payload.update(body)
    response = client.post("/api/admin/tokens", json=payload, token=admin.token)
    assert response.status == 201, response.body
    return dict(response.json)


def test_api_token_after_revocation_is_rejected(client: Any, make_org: Any) -> None:
    org = make_org()
    created = _create_token(client, org.admin)
    _accepted(client, created["token"])
    assert client.delete(f"/api/admin/tokens/{created['id']}", token=org.admin.token).status == 204
    _rejected(client, created["token"])


def test_api_token_after_expiry_is_rejected(client: Any, make_org: Any) -> None:
    org = make_org()
    created = _create_token(client, org.admin)
    _accepted(client, created["token"])
    item = ApiTokenModel.get(org_pk(org.id), f"APITOKEN#{created['id']}")
    item.update(actions=[ApiTokenModel.expires_at.set(now() - 1)])
    _rejected(client, created["token"])


def test_api_token_with_altered_secret_or_swapped_ids_is_rejected(
    client: Any, make_org: Any
) -> None:
    org, other = make_org(), make_org()
    token = _create_token(client, org.admin)["token"]
    _accepted(client, token)
    last = "A" if token[-1] != "A" else "B"
    _rejected(client, token[:-1] + last)
    # Claiming another organization or owner in the token's id parts breaks the hash check.
    _rejected(client, token.replace(f"_{org.id}_", f"_{other.id}_"))
    _rejected(client, token.replace(f"_{org.admin.id}_", f"_{org.agent.id}_"))
    _rejected(client, "dgt_" + "0" * 16 + "_x_y_z")


def test_predecessor_token_works_during_grace_and_fails_after(client: Any, make_org: Any) -> None:
    org = make_org()
    created = _create_token(client, org.admin)
    rotated = client.post(f"/api/admin/tokens/{created['id']}/rotate", token=org.admin.token)
    assert rotated.status == 201
    successor = rotated.json
    assert successor["token"] != created["token"] and successor["predecessorId"] == created["id"]
    _accepted(client, created["token"])  # inside the grace period
    _accepted(client, successor["token"])
    item = ApiTokenModel.get(org_pk(org.id), f"APITOKEN#{created['id']}")
    item.update(actions=[ApiTokenModel.grace_until.set(now())])  # the grace period ends
    _rejected(client, created["token"])
    _accepted(client, successor["token"])


def test_rotation_with_zero_grace_kills_the_predecessor_immediately(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    created = _create_token(client, org.admin)
    with override(api_token_rotation_grace_seconds=0):
        assert (
            client.post(f"/api/admin/tokens/{created['id']}/rotate", token=org.admin.token).status
            == 201
        )
    _rejected(client, created["token"])
    again = client.post(f"/api/admin/tokens/{created['id']}/rotate", token=org.admin.token)
    assert_error(again, 409, "CONFLICT")


@pytest.mark.parametrize(
    "header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer" + " x" * 3000]
)
def test_malformed_authorization_headers_are_rejected(client: Any, header: str) -> None:
    assert_error(client.get("/api/me", headers={"Authorization": header}), 401, "UNAUTHENTICATED")


def test_every_401_emits_a_security_event_without_the_token(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    forged = sign(claims_of(org.agent.token), key=foreign_key())
    read_events(caplog)
    _rejected(client, forged)
    assert_error(client.get("/api/me"), 401, "UNAUTHENTICATED")
    text = all_log_text(caplog)
    assert forged not in text and forged.split(".")[2] not in text
    events = read_events(caplog, "security.authorization_failure")
    assert len(events) == 2
    for event in events:
        assert event["status"] == 401 and event["route"] == "/api/me"
        assert event["request_id"] and event["ip"] == "127.0.0.1"


@pytest.fixture
def keyring_env() -> Iterator[None]:
    saved = os.environ.get("JWT_KEYRING")
    yield
    if saved is None:
        os.environ.pop("JWT_KEYRING", None)
    else:
        os.environ["JWT_KEYRING"] = saved
    keyring.reload_keyring()


def _ring(active: str, entries: dict[str, dict[str, str]]) -> str:
    return json.dumps({"active": active, "keys": entries})


def test_key_rotation_old_kid_verifies_until_retired(
    client: Any, make_org: Any, keyring_env: None
) -> None:
    old = json.loads(keyring.generate_keyring_json("kid-old"))["keys"]["kid-old"]
    new = json.loads(keyring.generate_keyring_json("kid-new"))["keys"]["kid-new"]
    os.environ["JWT_KEYRING"] = _ring("kid-old", {"kid-old": old})
    keyring.reload_keyring()
    org = make_org()
    old_token = org.agent.token
    assert keyring.keyring().active_kid == "kid-old"

    # Rotation: the new key signs; the old one is kept public-only and still verifies.
    os.environ["JWT_KEYRING"] = _ring(
        "kid-new", {"kid-new": new, "kid-old": {"public": old["public"]}}
    )
    keyring.reload_keyring()
    assert "kid-old" not in keyring.keyring().private_keys
    _accepted(client, old_token)
    new_token = client.post("/api/auth/login", json=org.agent.login_body()).json["token"]
    import jwt

    assert jwt.get_unverified_header(new_token)["kid"] == "kid-new"
    _accepted(client, new_token)

    # Retirement: the old kid is gone, its tokens fail; the new ones keep working.
    os.environ["JWT_KEYRING"] = _ring("kid-new", {"kid-new": new})
    keyring.reload_keyring()
    _rejected(client, old_token)
    _accepted(client, new_token)
