"""Passwords: change one's own, reset by e-mail, admin-initiated reset; what the user receives
(read back from moto's SES), what the API answers, and what it stores and audits."""

from __future__ import annotations

from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import ONE_TIME_TOKEN_PREFIX, OneTimeTokenModel
from tests.support.assertions import assert_error
from tests.support.dynamo_calls import dynamo_calls
from tests.support.logcheck import lines_since
from tests.support.mail import inbox, sent_mail
from tests.support.orgs import TestOrg

NEW_PASSWORD = "a-brand-new-passphrase"  # pragma: allowlist secret
OTHER_PASSWORD = "yet-another-passphrase"  # pragma: allowlist secret


def _login(client: Any, user: Any, password: str) -> Any:
    return client.post("/api/auth/login", json=user.login_body(password=password))


def _actions(org: TestOrg) -> list[str]:
    return [record.action for record in audit.AuditRecordModel.query(org_pk(org.id))]


def _request_reset(client: Any, organization: str, email: str) -> Any:
    return client.post(
        "/api/auth/password-reset", json={"organization": organization, "email": email}
    )


def _complete(client: Any, token: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/api/auth/password-reset/complete", json={"token": token, "newPassword": password}
    )


# --- POST /api/me/password ---------------------------------------------------------------------


def test_change_password_ends_every_session_and_answers_with_a_new_one(
    client: Any, make_org: Any, log_mark: int
) -> None:
    org = make_org()
    agent = org.agent
    second_session = _login(client, agent, agent.password).json["token"]
    response = client.post(
        "/api/me/password",
        json={"currentPassword": agent.password, "newPassword": NEW_PASSWORD},
        token=agent.token,
    )
    assert response.status == 200
    assert response.json["user"]["id"] == agent.id
    fresh = response.json["token"]
    assert client.get("/api/me", token=fresh).status == 200
    # The calling session and every other one issued before the change are dead.
    assert client.get("/api/me", token=agent.token).status == 401
    assert client.get("/api/me", token=second_session).status == 401
    assert _login(client, agent, agent.password).status == 401
    assert _login(client, agent, NEW_PASSWORD).status == 200
    assert _actions(org).count("user.password_change") == 1
    events = [line for line in lines_since(log_mark) if "password_changed" in line]
    assert len(events) == 1 and "security.token_lifecycle" in events[0]


def test_change_password_keeps_api_tokens(client: Any, make_org: Any) -> None:
    from tests.support.orgs import mint_api_token

    org = make_org()
    api_token = mint_api_token(org.admin, ["admin:users"])
    response = client.post(
        "/api/me/password",
        json={"currentPassword": org.admin.password, "newPassword": NEW_PASSWORD},
        token=org.admin.token,
    )
    assert response.status == 200
    assert client.get("/api/admin/users", token=api_token).status == 200


def test_change_password_with_a_wrong_current_password_is_a_400(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.post(
        "/api/me/password",
        json={
            "currentPassword": "not-the-password-at-all",  # pragma: allowlist secret
            "newPassword": NEW_PASSWORD,
        },
        token=org.agent.token,
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["message"] == "The current password is wrong."
    assert [d["field"] for d in body["error"]["details"]] == ["currentPassword"]
    assert client.get("/api/me", token=org.agent.token).status == 200
    assert _login(client, org.agent, org.agent.password).status == 200
    assert "user.password_change" not in _actions(org)


@pytest.mark.parametrize("breached", ["1qaz2wsx3edc", "QWERTY123456", "Qazwsxedcrfv"])
def test_a_breached_or_common_password_is_refused_with_a_clear_400(
    client: Any, make_org: Any, breached: str
) -> None:
    org = make_org()
    response = client.post(
        "/api/me/password",
        json={"currentPassword": org.agent.password, "newPassword": breached},
        token=org.agent.token,
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "breached or common passwords" in body["error"]["message"]
    assert body["error"]["details"] == [
        {"field": "newPassword", "message": "breached or common password"}
    ]
    assert _login(client, org.agent, org.agent.password).status == 200


@pytest.mark.parametrize("password", ["short", "x" * 73, "é" * 37])
def test_the_length_rule_applies_to_new_passwords(
    client: Any, make_org: Any, password: str
) -> None:
    org = make_org()
    response = client.post(
        "/api/me/password",
        json={"currentPassword": org.agent.password, "newPassword": password},
        token=org.agent.token,
    )
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert "12 to 72 bytes" in body["error"]["message"]
    assert [d["field"] for d in body["error"]["details"]] == ["newPassword"]


def test_api_tokens_cannot_change_a_password(client: Any, make_org: Any) -> None:
    from tests.support.orgs import mint_api_token

    org = make_org()
    api_token = mint_api_token(org.admin, ["admin:users"])
    response = client.post(
        "/api/me/password",
        json={"currentPassword": org.admin.password, "newPassword": NEW_PASSWORD},
        token=api_token,
    )
    assert_error(response, 403, "FORBIDDEN")
    assert _login(client, org.admin, org.admin.password).status == 200


# --- Reset by e-mail ---------------------------------------------------------------------------


def test_reset_by_mail_sets_the_password_and_ends_every_session(client: Any, make_org: Any) -> None:
    org = make_org()
    requester = org.requester
    response = _request_reset(client, org.id, requester.email.upper())
    assert response.status == 202
    (mail,) = inbox(requester.email)
    assert mail.sender == "Deskguard <no-reply@deskguard.example>"
    assert mail.subject == f"Reset your {org.id.title()} helpdesk password"
    assert "http://localhost:8000/password/reset#token=dgp_" in mail.text
    assert "works once, for 30 minutes" in mail.text
    assert f'href="http://localhost:8000/password/reset#token={mail.token}"' in mail.html
    # Only the hash is stored, under the organization.
    stored = list(
        OneTimeTokenModel.query(
            org_pk(org.id), OneTimeTokenModel.sk.startswith(ONE_TIME_TOKEN_PREFIX)
        )
    )
    assert len(stored) == 1 and mail.token not in stored[0].sk
    assert stored[0].user_id == requester.id and stored[0].purpose == "reset"
    assert _complete(client, mail.token).status == 204
    assert client.get("/api/me", token=requester.token).status == 401
    assert _login(client, requester, requester.password).status == 401
    assert _login(client, requester, NEW_PASSWORD).status == 200
    assert _actions(org).count("user.password_reset") == 1


def test_the_reset_request_answers_the_same_for_known_and_unknown_addresses(
    client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org, elsewhere = make_org(), make_org()
    probes = {
        "known": (org.id, org.agent.email),
        "unknown": (org.id, f"nobody@{org.id}.example"),
        "another organization's user": (org.id, elsewhere.agent.email),
        "unknown organization": ("no-such-org", org.agent.email),
        "deactivated": (org.id, org.requester.email),
    }
    client.patch(
        f"/api/admin/users/{org.requester.id}", json={"active": False}, token=org.admin.token
    )
    answers: dict[str, tuple[int, bytes, list[Any]]] = {}
    for name, (organization, email) in probes.items():
        with dynamo_calls(monkeypatch) as calls:
            response = _request_reset(client, organization, email)
        answers[name] = (response.status, response.body, list(calls))
    known_status, known_body, known_calls = answers["known"]
    assert known_status == 202
    assert b"If this address belongs to an account" in known_body
    assert len(known_calls) >= 5
    for name, answer in answers.items():
        assert answer == answers["known"], name
    # Only the known, active address got a mail.
    assert [mail.to for mail in sent_mail()] == [org.agent.email]


def test_reset_mails_are_limited_per_account_with_the_same_answer(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    answers = {_request_reset(client, org.id, org.agent.email).body for _ in range(5)}
    assert len(answers) == 1
    assert len(inbox(org.agent.email)) == 3  # RESET_MAILS_PER_ACCOUNT
    # Another account of the same organization is not affected.
    assert _request_reset(client, org.id, org.requester.email).status == 202
    assert len(inbox(org.requester.email)) == 1


def test_a_new_password_through_a_link_passes_the_same_rules(client: Any, make_org: Any) -> None:
    org = make_org()
    _request_reset(client, org.id, org.agent.email)
    (mail,) = inbox(org.agent.email)
    body = assert_error(_complete(client, mail.token, "1QAZ2WSX3EDC"), 400, "VALIDATION_ERROR")
    assert body["error"]["details"][0]["field"] == "newPassword"
    # A refused password does not use the link up.
    assert _complete(client, mail.token).status == 204


# --- Admin-initiated reset ---------------------------------------------------------------------


def test_an_admin_sends_a_reset_link_and_the_old_password_works_until_it_is_used(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    response = client.post(f"/api/admin/users/{org.agent.id}/password-reset", token=org.admin.token)
    assert response.status == 202 and response.json["mailSent"] is True
    (mail,) = inbox(org.agent.email)
    assert "/password/reset#token=" in mail.text
    assert _actions(org).count("user.password_reset_requested") == 1
    assert _login(client, org.agent, org.agent.password).status == 200
    assert _complete(client, mail.token).status == 204
    assert _login(client, org.agent, NEW_PASSWORD).status == 200


def test_an_admin_reset_of_a_deactivated_user_is_a_409(client: Any, make_org: Any) -> None:
    org = make_org()
    client.patch(f"/api/admin/users/{org.agent.id}", json={"active": False}, token=org.admin.token)
    response = client.post(f"/api/admin/users/{org.agent.id}/password-reset", token=org.admin.token)
    assert_error(response, 409, "CONFLICT")
    assert inbox(org.agent.email) == []


def test_a_deactivated_user_cannot_use_an_earlier_link(client: Any, make_org: Any) -> None:
    org = make_org()
    client.post(f"/api/admin/users/{org.agent.id}/password-reset", token=org.admin.token)
    (mail,) = inbox(org.agent.email)
    client.patch(f"/api/admin/users/{org.agent.id}", json={"active": False}, token=org.admin.token)
    assert_error(_complete(client, mail.token), 400, "VALIDATION_ERROR")


def test_invitation_mail_escapes_the_name_and_links_to_setup(client: Any, make_org: Any) -> None:
    org = make_org()
    name = "<img src=x onerror=alert(1)> Mallory"
    response = client.post(
        "/api/admin/users",
        json={"email": "mallory@example.com", "name": name, "role": "REQUESTER"},
        token=org.admin.token,
    )
    assert response.status == 201
    (mail,) = inbox("mallory@example.com")
    assert "<img" not in mail.html and "&lt;img src=x onerror=alert(1)&gt; Mallory" in mail.html
    assert f"Hello {name}," in mail.text  # plain text carries the name as typed
    assert "works once, for 72 hours" in mail.text
    assert "/password/setup#token=" in mail.text


def test_the_local_stack_writes_each_sent_mail_to_its_mail_directory(
    client: Any, make_org: Any, tmp_path: Any
) -> None:
    from devstack.mail_capture import MailCapture

    org = make_org()
    capture = MailCapture(tmp_path / "mail")
    _request_reset(client, org.id, org.agent.email)
    (path,) = capture.drain()
    assert capture.drain() == []  # each message once
    (mail,) = inbox(org.agent.email)
    written = message_from_string(path.read_text(encoding="utf-8"), policy=policy.default)
    assert isinstance(written, EmailMessage) and written["To"] == org.agent.email
    text = written.get_body(preferencelist=("plain",))
    assert text is not None and mail.token in text.get_content()
    assert path.stat().st_mode & 0o777 == 0o600
