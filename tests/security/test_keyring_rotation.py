"""Key rotation without a redeploy: a warm container learns a new kid from the secret store with
one reload, and made-up kids never make it call the store once per request."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.client
import pytest

from chalicelib.auth.jwt_codec import encode_jwt
from chalicelib.core import keyring
from chalicelib.core.settings import get_settings
from tests.support.orgs import TestUser

SECRET_ID = "deskguard-test-signing-keys"


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return time.time()


@pytest.fixture
def secret_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The stage's keyring in (moto's) Secrets Manager, the process reading it from there."""
    client = boto3.client("secretsmanager", region_name=get_settings().region)
    client.create_secret(Name=SECRET_ID, SecretString=keyring.generate_keyring_json("kid-a"))
    monkeypatch.setenv("JWT_SIGNING_KEY_SECRET_ID", SECRET_ID)
    monkeypatch.delenv("JWT_KEYRING", raising=False)
    clock = FakeMonotonic()
    monkeypatch.setattr(keyring, "time", clock)
    reads: list[str] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "GetSecretValue":
            reads.append(str(params.get("SecretId")))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    keyring.reload_keyring()
    yield {"client": client, "reads": reads, "clock": clock}
    monkeypatch.undo()
    keyring.reload_keyring()


def _add_and_activate(store: dict[str, Any], kid: str) -> str:
    """What `make keys ... add` + `activate` do to the secret: one more kid, now active."""
    client = store["client"]
    current = json.loads(client.get_secret_value(SecretId=SECRET_ID)["SecretString"])
    store["reads"].pop()  # the operator's read, not the service's
    fresh = json.loads(keyring.generate_keyring_json(kid))
    current["keys"][kid] = fresh["keys"][kid]
    current["active"] = kid
    raw = json.dumps(current)
    client.put_secret_value(SecretId=SECRET_ID, SecretString=raw)
    return raw


def _token(ring_json: str, user: TestUser, kid: str | None = None) -> str:
    """A session token signed by the given keyring (another, already updated container)."""
    ring = keyring.parse_keyring(ring_json)
    signing_kid, key = ring.signing_key()
    settings = get_settings()
    now = int(time.time())
    claims = {
        "sub": user.id,
        "role": user.role.value,
        "organizationId": user.organization_id,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    return encode_jwt(claims, key, kid or signing_kid)


def test_new_kid_reaches_a_warm_container_after_one_reload(
    client: Any, make_org: Any, secret_store: dict[str, Any]
) -> None:
    reads: list[str] = secret_store["reads"]
    org = make_org()  # logged in with kid-a, read from the secret once
    assert reads == [SECRET_ID]
    assert client.get("/api/me", token=org.agent.token).status == 200
    rotated = _add_and_activate(secret_store, "kid-b")
    new_token = _token(rotated, org.agent)
    # The warm container does not know kid-b: it reloads once and accepts the token.
    assert client.get("/api/me", token=new_token).status == 200
    assert reads == [SECRET_ID] * 2
    assert client.get("/api/me", token=new_token).status == 200
    assert client.get("/api/me", token=org.agent.token).status == 200  # kid-a still verifies
    assert len(reads) == 2
    # It now signs with the new active kid too.
    login = client.post("/api/auth/login", json=org.admin.login_body())
    import jwt

    assert jwt.get_unverified_header(login.json["token"])["kid"] == "kid-b"


def test_unknown_kids_reload_at_most_once_per_interval(
    client: Any, make_org: Any, secret_store: dict[str, Any]
) -> None:
    reads: list[str] = secret_store["reads"]
    org = make_org()
    ring = keyring.generate_keyring_json("kid-forged")
    statuses = {
        client.get("/api/me", token=_token(ring, org.agent, f"kid-x{i}")).status for i in range(50)
    }
    assert statuses == {401}
    assert len(reads) == 2  # the cold start, then one reload for the first unknown kid
    # A kid added within the interval waits for the next one (or a cold start).
    rotated = _add_and_activate(secret_store, "kid-c")
    assert client.get("/api/me", token=_token(rotated, org.agent)).status == 401
    assert len(reads) == 2
    secret_store["clock"].now += get_settings().keyring_reload_interval_seconds
    assert client.get("/api/me", token=_token(rotated, org.agent)).status == 200
    assert len(reads) == 3


def test_a_failed_reload_keeps_the_loaded_keys(
    client: Any, make_org: Any, secret_store: dict[str, Any]
) -> None:
    org = make_org()
    secret_store["client"].delete_secret(SecretId=SECRET_ID, ForceDeleteWithoutRecovery=True)
    ring = keyring.generate_keyring_json("kid-y")
    assert client.get("/api/me", token=_token(ring, org.agent)).status == 401
    assert client.get("/api/me", token=org.agent.token).status == 200
