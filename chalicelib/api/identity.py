"""Identity routes: login, logout, me."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.auth.authorizer import SESSION_COOKIE
from chalicelib.core.errors import Unauthenticated
from chalicelib.core.lazy import deferred_names, lazy_module
from chalicelib.core.observability import current_context
from chalicelib.core.settings import get_settings
from chalicelib.ratelimit import limiter as ratelimit
from chalicelib.security_events import emit

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.auth import devices, sessions
    from chalicelib.identity import revocation, users
    from chalicelib.identity import schemas as models
else:
    devices = lazy_module("chalicelib.auth.devices")
    sessions = lazy_module("chalicelib.auth.sessions")
    revocation = lazy_module("chalicelib.identity.revocation")
    users = lazy_module("chalicelib.identity.users")
    models = deferred_names("chalicelib.identity.schemas")

identity_bp = Blueprint(__name__)

_COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict"


def _answer_no_sooner_than_the_floor(started: float) -> None:
    """Hold a failed login until `LOGIN_FAILURE_FLOOR_MS` after it arrived: the same DynamoDB
    calls are made for known and unknown e-mails, and this hides what latency still differs
    (a read that finds an item takes longer than one that does not)."""
    remaining = get_settings().login_failure_floor_ms / 1000 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


@api_route(
    identity_bp,
    "/auth/login",
    methods=["POST"],
    public=True,
    body=models.LoginBody,
    response=models.LoginOut,
    errors=(401,),
    operation_id="login",
)
def login(call: ApiCall) -> Response:
    """Log in. Only failures count against the limits (docs/identity.md, "Login throttling")."""
    started = time.monotonic()
    body = call.body(models.LoginBody)
    account = body.account()
    device_id = devices.trusted_device(call.header("cookie"), account)
    attempt = ratelimit.begin_login(account, ip=current_context().ip, device_id=device_id)
    try:
        user = users.authenticate_password(body.organization, body.email, body.password)
    except Unauthenticated:
        ratelimit.record_login_failure(attempt)
        emit("security.failed_login", reason="bad_credentials", email=body.email)
        _answer_no_sooner_than_the_floor(started)
        raise
    ratelimit.record_login_success(attempt)
    session = sessions.issue_session(user.id, user.organization_id, user.role)
    cookie = (
        f"{SESSION_COOKIE}={session.token}; Max-Age={get_settings().session_ttl_seconds}; "
        f"{_COOKIE_ATTRIBUTES}"
    )
    payload = {"token": session.token, "expires_at": session.expires_at, "user": user}
    return Response(
        body=models.LoginOut.dump(payload),
        status_code=200,
        headers={
            "Content-Type": "application/json",
            "Set-Cookie": [cookie, devices.issue_device_cookie(account, device_id)],
        },
    )


@api_route(
    identity_bp,
    "/me",
    methods=["GET"],
    response=models.UserOut,
    operation_id="getMe",
)
def me(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    return models.UserOut.dump(users.get_user(principal.organization_id, principal.user_id))


@api_route(
    identity_bp,
    "/auth/logout",
    methods=["POST"],
    status=204,
    body=NoBody,
    summary="Revoke the calling session (effective on the next request) and clear the cookie.",
    operation_id="logout",
)
def logout(call: ApiCall) -> Response:
    """Revoke the calling session's jti (effective on the next request) and clear the cookie."""
    principal = call.principal
    revocation.revoke_session(
        principal.organization_id, principal.user_id, principal.token_id, principal.expires_at
    )
    return Response(
        body="",
        status_code=204,
        headers={"Set-Cookie": f"{SESSION_COOKIE}=; Max-Age=0; {_COOKIE_ATTRIBUTES}"},
    )
