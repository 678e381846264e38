"""Attacks on the one-time password tokens (reset and invitation links): reuse, expiry, tokens
of another user or organization, tokens outdated by a password change, forged and malformed
tokens, and a race between two uses. Every refusal is the same 400 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.identity import one_time_tokens, password_flows
from chalicelib.identity.one_time_tokens import InvalidToken
from tests.support.assertions import assert_error
from tests.support.clock import FakeClock
from tests.support.logcheck import lines_since
from tests.support.mail import inbox
from tests.support.orgs import TestOrg, TestUser

NEW_PASSWORD = "a-brand-new-passphrase"  # pragma: allowlist secret
LATER_PASSWORD = "a-later-passphrase-too"  # pragma: allowlist secret
REFUSED = "This link is invalid or has expired; ask for a new one."


def _login(client: Any, user: TestUser, password: str) -> int:
    response = client.post("/api/auth/login", json=user.login_body(password=password))
    return int(response.status)


def _reset_link(client: Any, org: TestOrg, user: TestUser) -> str:
    before = len(inbox(user.email))
    response = client.post(
        "/api/auth/password-reset", json={"organization": org.id, "email": user.email}
    )
    assert response.status == 202
    mails = inbox(user.email)
    assert len(mails) == before + 1
    return mails[-1].token


def _admin_link(client: Any, org: TestOrg, user: TestUser) -> str:
    response = client.post(f"/api/admin/users/{user.id}/password-reset", token=org.admin.token)
    assert response.status == 202
    return inbox(user.email)[-1].token


def _complete(client: Any, token: str, password: str = NEW_PASSWORD) -> Any:
    return client.post(
        "/api/auth/password-reset/complete", json={"token": token, "newPassword": password}
    )


def _refused(response: Any) -> None:
    body = assert_error(response, 400, "VALIDATION_ERROR")
    assert body["error"]["message"] == REFUSED


def test_a_token_works_once(client: Any, make_org: Any) -> None:
    org = make_org()
    token = _reset_link(client, org, org.agent)
    assert _complete(client, token).status == 204
    _refused(_complete(client, token, LATER_PASSWORD))
    assert _login(client, org.agent, NEW_PASSWORD) == 200
    assert _login(client, org.agent, LATER_PASSWORD) == 401


def test_a_token_expires(client: Any, make_org: Any, token_clock: FakeClock) -> None:
    org = make_org()
    token = _reset_link(client, org, org.agent)
    token_clock.now += 1800  # PASSWORD_RESET_TTL_SECONDS
    _refused(_complete(client, token))
    assert _login(client, org.agent, org.agent.password) == 200


def test_a_token_works_until_just_before_it_expires(
    client: Any, make_org: Any, token_clock: FakeClock
) -> None:
    org = make_org()
    token = _reset_link(client, org, org.agent)
    token_clock.now += 1799
    assert _complete(client, token).status == 204


def test_an_invitation_link_lives_72_hours(
    client: Any, make_org: Any, token_clock: FakeClock
) -> None:
    org = make_org()
    client.post(
        "/api/admin/users",
        json={"email": "invitee@example.com", "name": "Invitee", "role": "AGENT"},
        token=org.admin.token,
    )
    (invitation,) = inbox("invitee@example.com")
    token_clock.now += 72 * 3600
    _refused(_complete(client, invitation.token))


def test_a_token_edited_to_name_another_organization_finds_nothing(
    client: Any, make_org: Any
) -> None:
    org, other = make_org(), make_org()
    token = _reset_link(client, org, org.agent)
    secret = token.split(".", 1)[1]
    _refused(_complete(client, f"dgp_{other.id}.{secret}"))
    assert _complete(client, token).status == 204  # the genuine one still works


def test_a_token_changes_only_its_own_users_password(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    agents_token = _reset_link(client, org, org.agent)
    assert _complete(client, agents_token).status == 204
    # Nobody else's password moved: not the same organization's admin, nor another
    # organization's agent.
    for user in (org.admin, org.requester, other.agent):
        assert _login(client, user, user.password) == 200
        assert _login(client, user, NEW_PASSWORD) == 401


def test_a_token_of_another_organization_cannot_reset_a_user_here(
    client: Any, make_org: Any
) -> None:
    org, other = make_org(), make_org()
    foreign = _reset_link(client, other, other.agent)
    # Requesting with this organization's slug and the other's user's address sends nothing.
    client.post(
        "/api/auth/password-reset", json={"organization": org.id, "email": other.agent.email}
    )
    assert len(inbox(other.agent.email)) == 1
    assert _complete(client, foreign).status == 204
    assert _login(client, org.agent, org.agent.password) == 200


def test_a_token_is_dead_once_the_password_changed_by_any_path(client: Any, make_org: Any) -> None:
    org = make_org()
    first, second = _reset_link(client, org, org.agent), _reset_link(client, org, org.agent)
    changed = client.post(
        "/api/me/password",
        json={"currentPassword": org.agent.password, "newPassword": LATER_PASSWORD},
        token=org.agent.token,
    )
    assert changed.status == 200
    _refused(_complete(client, first))
    _refused(_complete(client, second))
    assert _login(client, org.agent, LATER_PASSWORD) == 200
    # And a reset outdates the other outstanding links (these two from the admin: the public
    # request sends at most three mails per account an hour).
    third, fourth = _admin_link(client, org, org.agent), _admin_link(client, org, org.agent)
    assert _complete(client, third).status == 204
    _refused(_complete(client, fourth, "one-more-new-passphrase"))


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "dgp_",
        "not-a-token",
        "dgp_acme.short",
        "dgp_acme." + "A" * 43 + "' OR '1'='1",
        "dgp_ACME." + "A" * 43,
        "dgp_../../etc." + "A" * 43,
        "dgp_acme." + "A" * 43,
        "x" * 200,
    ],
)
def test_forged_and_malformed_tokens_get_the_same_400(
    client: Any, make_org: Any, forged: str
) -> None:
    org = make_org()
    response = _complete(client, forged)
    assert response.status == 400
    if forged:  # an empty token fails the body schema (min length) before any lookup
        _refused(response)
    assert _login(client, org.agent, org.agent.password) == 200


def test_two_uses_racing_past_the_read_check_change_the_password_once(
    client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    token = _reset_link(client, org, org.agent)
    item = one_time_tokens.find_valid(token)
    # Both requests read the token while it is still unused; the second write must fail.
    monkeypatch.setattr(one_time_tokens, "find_valid", lambda _token: item)
    password_flows.complete_with_token(token, NEW_PASSWORD)
    with pytest.raises(InvalidToken):
        password_flows.complete_with_token(token, LATER_PASSWORD)
    assert _login(client, org.agent, NEW_PASSWORD) == 200
    assert _login(client, org.agent, LATER_PASSWORD) == 401


def test_no_log_line_carries_a_token_an_address_or_a_password(
    client: Any, make_org: Any, log_mark: int
) -> None:
    org = make_org()
    token = _reset_link(client, org, org.agent)
    _complete(client, token)
    _complete(client, token)
    client.post(
        "/api/auth/password-reset",
        json={"organization": org.id, "email": "unknown@example.com"},
    )
    text = "\n".join(lines_since(log_mark))
    assert "password_reset_requested" in text and "password_reset_completed" in text
    secret = token.split(".", 1)[1]
    for value in (token, secret, org.agent.email, "unknown@example.com", NEW_PASSWORD):
        assert value not in text


def test_guessing_the_current_password_with_a_stolen_session_is_throttled(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    statuses = [
        client.post(
            "/api/me/password",
            json={"currentPassword": f"guess-number-{i:04d}", "newPassword": NEW_PASSWORD},
            token=org.agent.token,
        ).status
        for i in range(7)
    ]
    assert statuses == [400] * 5 + [429] * 2  # 5 per user per 5 minutes
    assert _login(client, org.agent, org.agent.password) == 200


def test_guessing_tokens_is_throttled_per_address(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    make_org()
    statuses = [_complete(client, "dgp_acme." + f"{i:043d}").status for i in range(12)]
    assert statuses == [400] * 10 + [429] * 2  # 10 per IP per 5 minutes
    clock.now += 300
    assert _complete(client, "dgp_acme." + "0" * 43).status == 400
