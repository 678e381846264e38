"""What the logs and the AWS call pattern reveal: never a password, token, cookie or e-mail; every
denial is an event; the JWT path makes exactly one AWS call (the revocation BatchGetItem)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.client import BaseClient

from chalicelib.auth.authorizer import authenticate
from chalicelib.core.settings import override
from tests.support.events import all_log_text, read_events
from tests.support.orgs import mint_api_token


def test_jwt_path_makes_exactly_one_aws_call(
    client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    calls: list[str] = []
    real = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    principal = authenticate(f"Bearer {org.agent.token}")
    assert principal.user_id == org.agent.id
    assert calls == ["BatchGetItem"]


def test_security_events_for_403_and_cross_org_404(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org, other = make_org(), make_org()
    read_events(caplog)
    assert client.get("/api/admin/users", token=org.agent.token).status == 403
    assert (
        client.get(
            f"/api/admin/users/{org.agent.id}", token=other.admin.token, source_ip="203.0.113.9"
        ).status
        == 404
    )
    forbidden, not_found = read_events(caplog, "security.authorization_failure")
    assert forbidden["status"] == 403 and forbidden["user_id"] == org.agent.id
    assert forbidden["organization_id"] == org.id and forbidden["route"] == "/api/admin/users"
    assert not_found["status"] == 404 and not_found["user_id"] == other.admin.id
    assert not_found["route"] == "/api/admin/users/{user_id}"
    assert not_found["ip"] == "203.0.113.9" and not_found["request_id"]


def test_logs_never_contain_passwords_tokens_cookies_or_emails(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="deskguard")
    org = make_org()
    secrets = [org.admin.password, org.agent.password, org.admin.token, org.agent.token]
    login = client.post("/api/auth/login", json=org.agent.login_body())
    cookie_value = login.header("Set-Cookie").split(";")[0].split("=", 1)[1]  # type: ignore[union-attr]
    secrets += [login.json["token"], cookie_value]
    wrong = "Wrong-Password-Value-42"
    secrets.append(wrong)
    client.post("/api/auth/login", json=org.agent.login_body(password=wrong))
    client.post(
        "/api/auth/login", json=org.agent.login_body(email="ghost@example.org", password=wrong)
    )
    with override(allowed_origins=("https://app.example",)):
        client.get("/api/me", headers={"Cookie": f"deskguard_session={cookie_value}"})
        client.post("/api/auth/logout", headers={"Cookie": f"deskguard_session={cookie_value}"})
    created = client.post(
        "/api/admin/tokens",
        json={"name": "n", "scopes": ["tickets:read"], "expiresInDays": 1},
        token=org.admin.token,
    ).json
    secrets.append(created["token"])
    rotated = client.post(f"/api/admin/tokens/{created['id']}/rotate", token=org.admin.token).json
    secrets.append(rotated["token"])
    client.get("/api/me", token=rotated["token"])
    client.get("/api/admin/users", token=rotated["token"])  # 403: no scope
    client.delete(f"/api/admin/tokens/{rotated['id']}", token=org.admin.token)
    client.get("/api/me", token=rotated["token"])  # 401: revoked
    client.get("/api/me", token=org.agent.token[:-4] + "AAAA")  # 401: bad signature
    minted = mint_api_token(org.agent)
    secrets.append(minted)
    client.get("/api/me", token=minted)
    client.post(
        "/api/admin/users",
        json={"email": "fresh@example.org", "name": "F", "role": "AGENT"},
        token=org.admin.token,
    )
    client.post("/api/auth/logout", token=org.agent.token)

    captured = capsys.readouterr()
    text = all_log_text(caplog) + captured.out + captured.err
    assert "security.failed_login" in text and "security.token_lifecycle" in text
    assert "security.authorization_failure" in text
    for secret in secrets:
        assert secret not in text
        assert secret[-20:] not in text  # not even a tail of it
    for email in (org.agent.email, org.admin.email, "ghost@example.org", "fresh@example.org"):
        assert email not in text
    events = [r for r in caplog.records if getattr(r, "category", None)]
    assert len(events) >= 8
