"""Password routes: change one's own, request and complete a reset (also completes an
invitation's setup), and the admin-initiated reset. docs/identity.md, "Passwords"."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.auth.authorizer import SESSION_COOKIE
from chalicelib.authz.principal import Credential
from chalicelib.core.lazy import deferred_names, lazy_module
from chalicelib.core.settings import get_settings

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.auth import sessions
    from chalicelib.identity import password_flows
    from chalicelib.identity import schemas as models
else:
    sessions = lazy_module("chalicelib.auth.sessions")
    password_flows = lazy_module("chalicelib.identity.password_flows")
    models = deferred_names("chalicelib.identity.schemas")

passwords_bp = Blueprint(__name__)

_COOKIE_ATTRIBUTES = "Path=/; Secure; HttpOnly; SameSite=Strict"
RESET_REQUESTED = (
    "If this address belongs to an account of this organization, a link to reset its password "
    "has been sent to it."
)


@api_route(
    passwords_bp,
    "/me/password",
    methods=["POST"],
    operation_id="changePassword",
    body=models.ChangePasswordBody,
    response=models.LoginOut,
    summary=(
        "Change the caller's password (current password required; length rule and breached-"
        "password list). Ends every session of the user, this one included, and answers with "
        "a new session (and cookie, for a cookie caller). API tokens stay valid."
    ),
)
def change_password(call: ApiCall) -> Response:
    body = call.body(models.ChangePasswordBody)
    principal = call.principal
    user = password_flows.change_password(
        principal.organization_id, principal.user_id, body.currentPassword, body.newPassword
    )
    session = sessions.issue_session(user.id, user.organization_id, user.role)
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    if principal.credential is Credential.COOKIE:
        headers["Set-Cookie"] = (
            f"{SESSION_COOKIE}={session.token}; Max-Age={get_settings().session_ttl_seconds}; "
            f"{_COOKIE_ATTRIBUTES}"
        )
    payload = {"token": session.token, "expires_at": session.expires_at, "user": user}
    return Response(body=models.LoginOut.dump(payload), status_code=200, headers=headers)


def _hold_until_the_floor(started: float) -> None:
    """Answer no sooner than `PASSWORD_RESET_FLOOR_MS` after arrival: a known address sends a
    mail, an unknown one does not; the floor hides that difference."""
    remaining = get_settings().password_reset_floor_ms / 1000 - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)


@api_route(
    passwords_bp,
    "/auth/password-reset",
    methods=["POST"],
    operation_id="requestPasswordReset",
    status=202,
    public=True,
    body=models.ResetRequestBody,
    response=models.ResetRequestedOut,
    summary=(
        "Ask for a password-reset link by e-mail. The same 202 and body whether or not the "
        "address has an account in the organization."
    ),
)
def request_password_reset(call: ApiCall) -> dict[str, Any]:
    started = time.monotonic()
    body = call.body(models.ResetRequestBody)
    try:
        password_flows.request_reset(body.organization, body.email)
    finally:
        _hold_until_the_floor(started)
    return models.ResetRequestedOut.dump({"message": RESET_REQUESTED})


@api_route(
    passwords_bp,
    "/auth/password-reset/complete",
    methods=["POST"],
    operation_id="completePasswordReset",
    status=204,
    public=True,
    body=models.ResetCompleteBody,
    summary=(
        "Set a new password with the one-time token of a reset or invitation link (works once, "
        "before it expires, and not after the password changed). Ends every session of the user."
    ),
)
def complete_password_reset(call: ApiCall) -> Response:
    body = call.body(models.ResetCompleteBody)
    password_flows.complete_with_token(body.token, body.newPassword)
    return Response(body="", status_code=204)


@api_route(
    passwords_bp,
    "/admin/users/{user_id}/password-reset",
    methods=["POST"],
    operation_id="sendPasswordReset",
    status=202,
    body=NoBody,
    response=models.AdminResetOut,
    summary=(
        "Send a user of the caller's organization a password-reset link (audited); their "
        "current password works until the link is used. 409 for a deactivated user."
    ),
)
def admin_password_reset(call: ApiCall, user_id: str) -> dict[str, Any]:
    sent = password_flows.admin_reset(
        call.principal.organization_id, user_id, actor_id=call.principal.user_id
    )
    message = (
        "A password-reset link has been sent to the user."
        if sent
        else ("The reset link could not be mailed; try again later.")
    )
    return models.AdminResetOut.dump({"message": message, "mail_sent": sent})
