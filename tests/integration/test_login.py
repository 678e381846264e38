"""Login: indistinguishable failures, bcrypt cost, failed-login counter, events."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.authz.principal import Role
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import override
from chalicelib.identity import users
from chalicelib.identity.models import UserModel
from tests.support.events import read_events


def _strip_volatile(response: Any) -> tuple[int, Any, dict[str, str]]:
    headers = {
        k.lower(): v for k, v in response.headers.items() if k.lower() not in {"x-request-id"}
    }
    return response.status, response.json, headers


def test_wrong_password_and_unknown_email_are_identical(client: Any, make_org: Any) -> None:
    org = make_org()
    wrong_password = client.post(
        "/api/auth/login", json=org.agent.login_body(password="wrong-password-123")
    )
    unknown_email = client.post(
        "/api/auth/login",
        json=org.agent.login_body(email="nobody@nowhere.example", password="wrong-password-1"),
    )
    deactivated = org.add_user(Role.REQUESTER)
    users.update_user(org.id, deactivated.id, actor_id=org.admin.id, active=False)
    inactive = client.post("/api/auth/login", json=deactivated.login_body())
    assert wrong_password.status == 401
    assert _strip_volatile(wrong_password) == _strip_volatile(unknown_email)
    assert _strip_volatile(wrong_password) == _strip_volatile(inactive)
    assert wrong_password.body == unknown_email.body == inactive.body
    assert wrong_password.header("Set-Cookie") is None


def test_unknown_email_still_pays_one_bcrypt_check(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.identity import passwords

    calls: list[str] = []
    real = passwords.bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed.decode()[:7])
        return bool(real(password, hashed))

    monkeypatch.setattr(passwords.bcrypt, "checkpw", counting)
    response = client.post(
        "/api/auth/login",
        json={
            "organization": "acme",
            "email": "ghost@nowhere.example",
            "password": "whatever-pass",
        },
    )
    assert response.status == 401
    assert len(calls) == 1


def test_login_is_case_insensitive_on_email(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.post(
        "/api/auth/login",
        json=org.agent.login_body(email="  " + org.agent.email.upper() + " "),
    )
    assert response.status == 200 and response.json["user"]["id"] == org.agent.id


def test_hashes_are_bcrypt_cost_12_by_default(client: Any, make_org: Any) -> None:
    org = make_org()
    # The suite runs at cost 4 (BCRYPT_ROUNDS); production's default is 12, through settings only.
    with override(bcrypt_rounds=12):
        user = users.create_user(
            org.id, email="cost@x.example", name="C", role=Role.AGENT, password="x" * 12
        )
    stored = UserModel.get(org_pk(org.id), f"USER#{user.id}")
    assert stored.password_hash.startswith("$2b$12$")
    login = client.post(
        "/api/auth/login",
        json={"organization": org.id, "email": "cost@x.example", "password": "x" * 12},
    )
    assert login.status == 200


def test_over_long_password_is_never_truncated(client: Any, make_org: Any) -> None:
    org = make_org()
    base = "p" * 72
    users.create_user(org.id, email="long@x.example", name="L", role=Role.AGENT, password=base)
    # bcrypt would ignore byte 73+: with truncation this would log in.
    response = client.post(
        "/api/auth/login",
        json={"organization": org.id, "email": "long@x.example", "password": base + "extra"},
    )
    assert response.status == 401


def test_failed_logins_are_reported_and_never_touch_the_user_item(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    before = UserModel.get(org_pk(org.id), f"USER#{org.agent.id}").attribute_values
    read_events(caplog)
    for _ in range(2):
        client.post("/api/auth/login", json=org.agent.login_body(password="nope-nope-nope"))
    events = read_events(caplog, "security.failed_login")
    assert len(events) == 2 and all(e["request_id"] and e["ip"] for e in events)
    # Counting happens in the login limiter, keyed by the e-mail (known or not): a wrong password
    # writes nothing an unknown e-mail would not (tests/security/test_login_throttling.py).
    assert UserModel.get(org_pk(org.id), f"USER#{org.agent.id}").attribute_values == before
    ok = client.post("/api/auth/login", json=org.agent.login_body())
    assert ok.status == 200


def test_me_returns_the_contract_shape(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.get("/api/me", token=org.requester.token)
    assert response.json == {
        "id": org.requester.id,
        "email": org.requester.email,
        "name": "Requester",
        "role": "REQUESTER",
        "organizationId": org.id,
    }
    assert response.header("Cache-Control") == "no-store"
