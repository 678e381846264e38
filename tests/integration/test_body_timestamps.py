"""Every time in a body is an ISO 8601 UTC string: the session's and the API tokens' too, although
both are stored as epoch numbers (the JWT's `exp`, the token item's TTL fields)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from chalicelib.auth.sessions import decode_session


def _utc(value: Any) -> datetime:
    assert isinstance(value, str), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0, value
    return parsed.astimezone(UTC)


def test_login_expires_at_is_iso_utc_and_equals_the_token_expiry(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    user = org.agent
    login = client.post("/api/auth/login", json=user.login_body())
    assert login.status == 200
    expires = _utc(login.json["expiresAt"])
    assert expires.timestamp() == decode_session(login.json["token"])["exp"]
    assert 0 < expires.timestamp() - time.time() <= 3600 + 5


def test_api_token_times_are_iso_utc(client: Any, make_org: Any) -> None:
    org = make_org()
    body = {"name": "times", "scopes": ["tickets:read"], "expiresInDays": 1}
    created = client.post("/api/admin/tokens", json=body, token=org.admin.token).json
    rotated = client.post(f"/api/admin/tokens/{created['id']}/rotate", token=org.admin.token).json
    client.get("/api/tickets", token=rotated["token"])
    listed = client.get("/api/admin/tokens", token=org.admin.token).json["items"]
    assert len(listed) == 2
    for item in (created, rotated, *listed):
        for field in ("createdAt", "expires"):
            _utc(item[field])
    used = next(item for item in listed if item["id"] == rotated["id"])
    assert _utc(used["lastUsed"]) >= _utc(rotated["createdAt"]).replace(microsecond=0)
