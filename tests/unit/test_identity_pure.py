"""Pure identity rules: CSRF, cookie parsing, settings defaults, policy check."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from chalicelib.auth.authorizer import (
    CsrfRejected,
    bearer_credential,
    check_csrf,
    session_cookie,
)
from chalicelib.authz.policy import SCOPES, check
from chalicelib.authz.principal import Credential, Principal, Role, TokenType
from chalicelib.core.errors import Forbidden, Unauthenticated
from chalicelib.core.settings import load, override


def test_production_defaults_bcrypt_12_and_no_authorizer_cache() -> None:
    settings = load({"DESKGUARD_STAGE": "prod"})
    assert settings.bcrypt_rounds >= 12
    assert settings.bcrypt_rounds == 12
    # Authorizer caching would let a revoked token live for the ttl: off, and not a setting.
    import app as app_module

    ttls = {auth.name: auth.ttl_seconds for auth in app_module.app.builtin_auth_handlers}
    assert ttls == {"deskguard_authorizer": 0}
    config = Path(__file__).resolve().parents[2] / ".chalice" / "config.json"
    assert "AUTHORIZER_TTL_SECONDS" not in config.read_text()
    assert settings.allowed_origins == ()  # no cookie writes until origins are configured
    assert 1 <= settings.api_token_max_days <= 365


@pytest.mark.parametrize(
    "header,expected",
    [
        ("deskguard_session=abc", "abc"),
        ("a=1; deskguard_session=abc; b=2", "abc"),
        ('deskguard_session="abc"', "abc"),
        ("other=1", None),
        ("deskguard_session=", None),
        ("xdeskguard_session=abc", None),
        ("", None),
        (None, None),
    ],
)
def test_session_cookie_parsing(header: str | None, expected: str | None) -> None:
    assert session_cookie(header) == expected


def test_bearer_parsing() -> None:
    assert bearer_credential("Bearer abc") == "abc"
    assert bearer_credential("bearer   abc ") == "abc"
    for bad in (None, "", "Basic abc", "Bearer", "Bearer  ", "abc", "Bearer " + "x" * 5000):
        with pytest.raises(Unauthenticated):
            bearer_credential(bad)


def test_csrf_safe_methods_pass_and_writes_need_an_allowed_origin() -> None:
    with override(allowed_origins=("https://app.example",)):
        for method in ("GET", "HEAD", "OPTIONS"):
            check_csrf(method, {})
        check_csrf("POST", {"origin": "https://app.example"})
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            for headers in (
                {},
                {"origin": "null"},
                {"origin": "https://evil.example"},
                {"origin": "https://app.example.evil.example"},
                {"origin": "http://app.example"},
            ):
                with pytest.raises(CsrfRejected):
                    check_csrf(method, headers)
    assert issubclass(CsrfRejected, Forbidden)


def _principal(role: Role, **changes: object) -> Principal:
    base = Principal(user_id="u1", organization_id="acme", role=role)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_context_round_trip_keeps_every_field_as_flat_strings() -> None:
    principal = _principal(
        Role.AGENT,
        token_type=TokenType.API_TOKEN,
        token_id="t1",
        scopes=frozenset({"tickets:read", "comments:write"}),
        credential=Credential.COOKIE,
        expires_at=1234,
    )
    context = principal.to_authorizer_context()
    assert all(isinstance(v, str | int | float | bool) for v in context.values())
    assert context["scopes"] == "comments:write tickets:read"
    assert Principal.from_authorizer_context({**context, "principalId": "u1"}) == principal


def test_api_token_rights_are_role_and_scope_intersection() -> None:
    token = _principal(
        Role.AGENT, token_type=TokenType.API_TOKEN, scopes=frozenset({"admin:users"})
    )
    with pytest.raises(Forbidden):  # the scope is there but the role is not
        check(token, "GET", "/api/admin/users")
    admin_token = dataclasses.replace(token, role=Role.ADMIN)
    check(admin_token, "GET", "/api/admin/users")
    without_scope = dataclasses.replace(admin_token, scopes=frozenset({"tickets:read"}))
    with pytest.raises(Forbidden):
        check(without_scope, "GET", "/api/admin/users")
    with pytest.raises(Forbidden):  # token management is session-only
        check(dataclasses.replace(admin_token, scopes=SCOPES), "POST", "/api/admin/tokens")
