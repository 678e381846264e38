"""The custom authorizer Chalice registers with API Gateway (TOKEN type, `Authorization` header).

It answers with a policy for the whole API (`routes=['*']`) because API Gateway caches the policy
per token for `ttl_seconds`: a per-route policy would be replayed on other routes. The per-route
decision is made inside each request from the RBAC table (`chalicelib.authz.policy`).
"""

from __future__ import annotations

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.authz.authorizer import authenticate
from chalicelib.core.errors import Unauthenticated
from chalicelib.core.settings import get_settings
from chalicelib.security_events import emit

authorizer_bp = Blueprint(__name__)


class AuthorizerDenied(Exception):
    """Raised with the message 'Unauthorized', which API Gateway turns into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


@authorizer_bp.authorizer(ttl_seconds=get_settings().authorizer_ttl_seconds)
def deskguard_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """Verify the caller's credential and mint its claims into the request context."""
    try:
        principal = authenticate(auth_request.token)
    except Unauthenticated:
        emit("security.authorization_failure", reason="invalid_credential", status=401)
        raise AuthorizerDenied() from None
    return AuthResponse(
        routes=["*"],
        principal_id=principal.user_id,
        context=principal.to_authorizer_context(),
    )
