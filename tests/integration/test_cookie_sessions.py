"""The session cookie: issued at login, accepted by the REQUEST authorizer, guarded against CSRF."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.auth.authorizer import SESSION_COOKIE
from chalicelib.core.settings import override
from tests.support.assertions import assert_error
from tests.support.events import read_events
from tests.support.orgs import TestOrg

ORIGIN = "https://app.deskguard.example"


@pytest.fixture(autouse=True)
def allowed_origin() -> Any:
    with override(allowed_origins=(ORIGIN,)):
        yield


def _login_cookie(client: Any, org: TestOrg) -> str:
    response = client.post("/api/auth/login", json=org.agent.login_body())
    assert response.status == 200
    set_cookie = response.header("Set-Cookie") or ""
    attributes = [part.strip() for part in set_cookie.split(";")]
    assert {"Secure", "HttpOnly", "SameSite=Strict", "Path=/"} <= set(attributes)
    name, _, value = attributes[0].partition("=")
    assert name == SESSION_COOKIE and value == response.json["token"]
    return f"{SESSION_COOKIE}={value}"


def test_cookie_alone_authenticates_reads(client: Any, make_org: Any) -> None:
    org = make_org()
    cookie = _login_cookie(client, org)
    response = client.get("/api/me", headers={"Cookie": f"theme=dark; {cookie}"})
    assert response.status == 200
    assert response.json["id"] == org.agent.id


def test_no_cookie_and_no_header_is_401(client: Any) -> None:
    assert_error(client.get("/api/me", headers={"Cookie": "theme=dark"}), 401, "UNAUTHENTICATED")
    assert_error(
        client.get("/api/me", headers={"Cookie": f"{SESSION_COOKIE}=not-a-jwt"}),
        401,
        "UNAUTHENTICATED",
    )


def test_bad_authorization_header_is_not_rescued_by_a_valid_cookie(
    client: Any, make_org: Any
) -> None:
    cookie = _login_cookie(client, make_org())
    response = client.get("/api/me", headers={"Cookie": cookie, "Authorization": "Bearer junk"})
    assert_error(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null", ORIGIN + ".evil.example"])
def test_cookie_write_without_allowed_origin_is_403_and_changes_nothing(
    client: Any, make_org: Any, origin: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    cookie = _login_cookie(client, org)
    headers = {"Cookie": cookie}
    if origin is not None:
        headers["Origin"] = origin
    read_events(caplog)
    assert_error(client.post("/api/auth/logout", headers=headers), 403, "FORBIDDEN")
    # The forged logout did not happen: the session still works.
    assert client.get("/api/me", headers={"Cookie": cookie}).status == 200
    events = read_events(caplog, "security.authorization_failure")
    assert [e["reason"] for e in events] == ["csrf_origin"]
    assert events[0]["user_id"] == org.agent.id and events[0]["status"] == 403


def test_cookie_write_from_allowed_origin_works_and_logout_kills_the_cookie(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    cookie = _login_cookie(client, org)
    response = client.post("/api/auth/logout", headers={"Cookie": cookie, "Origin": ORIGIN})
    assert response.status == 204
    assert f"{SESSION_COOKIE}=;" in (response.header("Set-Cookie") or "")
    assert_error(client.get("/api/me", headers={"Cookie": cookie}), 401, "UNAUTHENTICATED")


def test_bearer_writes_need_no_origin(client: Any, make_org: Any) -> None:
    org = make_org()
    assert client.post("/api/auth/logout", token=org.agent.token).status == 204


def test_cookie_admin_write_is_csrf_checked_too(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.post("/api/auth/login", json=org.admin.login_body())
    cookie = f"{SESSION_COOKIE}={response.json['token']}"
    body = {"name": "x", "scopes": ["tickets:read"], "expiresInDays": 1}
    forged = client.post("/api/admin/tokens", json=body, headers={"Cookie": cookie})
    assert_error(forged, 403, "FORBIDDEN")
    listed = client.get("/api/admin/tokens", headers={"Cookie": cookie})
    assert listed.status == 200 and listed.json["items"] == []
    ok = client.post("/api/admin/tokens", json=body, headers={"Cookie": cookie, "Origin": ORIGIN})
    assert ok.status == 201


def test_boundary_rechecks_csrf_for_cookie_principals(client: Any, app: Any, make_org: Any) -> None:
    """Defense in depth: a cookie principal reaching a route without the Origin is refused there."""
    from chalice.local import LambdaContext

    from chalicelib.authz.principal import Credential, Principal, Role

    org = make_org()
    principal = Principal(
        user_id=org.agent.id,
        organization_id=org.id,
        role=Role.AGENT,
        token_id="jti-1",
        credential=Credential.COOKIE,
        expires_at=2_000_000_000,
    )

    def call(headers: dict[str, str]) -> int:
        event = client.gateway._generate_lambda_event(
            "POST", "/api/auth/logout", {"content-type": "application/json", **headers}, None
        )
        event["requestContext"]["authorizer"] = principal.to_authorizer_context()
        return int(app(event, LambdaContext("deskguard", 512))["statusCode"])

    assert call({}) == 403
    assert call({"origin": "https://evil.example"}) == 403
    assert call({"origin": ORIGIN}) == 204


def test_a_password_change_by_cookie_replaces_the_cookie(client: Any, make_org: Any) -> None:
    org = make_org()
    cookie = _login_cookie(client, org)
    new_password = "a-brand-new-passphrase"  # pragma: allowlist secret
    body = {"currentPassword": org.agent.password, "newPassword": new_password}
    # Without an allowed Origin a third party cannot ride the cookie to change the password.
    assert_error(
        client.post("/api/me/password", json=body, headers={"Cookie": cookie}), 403, "FORBIDDEN"
    )
    response = client.post(
        "/api/me/password", json=body, headers={"Cookie": cookie, "Origin": ORIGIN}
    )
    assert response.status == 200
    set_cookie = response.header("Set-Cookie") or ""
    new_cookie = set_cookie.split(";", 1)[0]
    assert new_cookie == f"{SESSION_COOKIE}={response.json['token']}" and new_cookie != cookie
    assert client.get("/api/me", headers={"Cookie": cookie}).status == 401
    assert client.get("/api/me", headers={"Cookie": new_cookie}).status == 200
