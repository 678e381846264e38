"""The custom authorizers API Gateway calls before any protected route.

- `deskguard_authorizer`: Chalice's TOKEN authorizer on the `Authorization` header (bearer session
  JWT or API token). Chalice attaches it to every protected route in the generated template.
- `deskguard_request_authorizer`: a REQUEST-type authorizer (a plain Lambda function) that sees the
  whole request, so it also accepts the session cookie and applies the CSRF Origin check. The deploy
  template points the API's authorizer at it; see docs/identity.md for the exact settings.

Both answer with a policy for the whole API (`routes=['*']`): API Gateway may cache a policy per
identity for `ttl_seconds`, and a per-route policy would be replayed on other routes. The per-route
decision is made inside each request from the RBAC table (`chalicelib.authz.policy`).
"""

from __future__ import annotations

from typing import Any

from chalice.app import AuthRequest, AuthResponse, Blueprint

from chalicelib.auth.authorizer import (
    CsrfRejected,
    RequestView,
    authenticate,
    authenticate_request,
)
from chalicelib.authz.principal import Principal
from chalicelib.core import startup
from chalicelib.core.errors import ForgedCredential, Unauthenticated
from chalicelib.core.observability import (
    RequestContext,
    bind_principal,
    current_context,
    reset_context,
    set_context,
)
from chalicelib.security_events import emit

authorizer_bp = Blueprint(__name__)


class AuthorizerDenied(Exception):
    """Raised with the message 'Unauthorized', which API Gateway turns into a 401."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def _route_from_arn(method_arn: str) -> tuple[str | None, str | None]:
    """(method, resource path) from `arn:...:api-id/stage/METHOD/path...`."""
    parts = method_arn.split(":", 5)[-1].split("/", 3) if method_arn else []
    if len(parts) < 3:
        return None, None
    return parts[2], "/" + (parts[3] if len(parts) > 3 else "")


def _allow(principal: Principal, method_arn: str) -> dict[str, Any]:
    response = AuthResponse(
        routes=["*"], principal_id=principal.user_id, context=principal.to_authorizer_context()
    )
    return response.to_dict(AuthRequest("REQUEST", "", method_arn))


def _deny(principal_id: str, method_arn: str) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [method_arn]}
            ],
        },
        "context": {},
    }


def _report_invalid(error: Unauthenticated) -> None:
    emit("security.authorization_failure", reason="invalid_credential", status=401)
    if isinstance(error, ForgedCredential):
        # Containment (the rate-limit counter, flags, revocation writes) loads on the first
        # forged credential, not on every cold authorizer.
        from chalicelib.auth import containment

        containment.record_forged_credential()


# No caching (ttl 0), fixed in code: revocation, logout, role changes and containment must act on
# the very next request. The deploy template replaces this TOKEN authorizer by the REQUEST one
# (ttl 0 as well, infra/cfn_api.py), so a setting here would not reach the deployed API anyway.
AUTHORIZER_TTL_SECONDS = 0


@authorizer_bp.authorizer(ttl_seconds=AUTHORIZER_TTL_SECONDS)
def deskguard_authorizer(auth_request: AuthRequest) -> AuthResponse:
    """TOKEN authorizer: verify the bearer credential and mint its claims into the context."""
    if startup.refusal() is not None:
        raise startup.ConfigurationRefused()  # API Gateway answers 500 (AUTHORIZER_FAILURE)
    token = None
    if current_context().route is None:  # deployed: the event carries only the method ARN
        method, route = _route_from_arn(auth_request.method_arn)
        token = set_context(RequestContext(route=route, method=method))
    try:
        principal = authenticate(auth_request.token)
    except Unauthenticated as error:
        _report_invalid(error)
        raise AuthorizerDenied() from None
    finally:
        if token is not None:
            reset_context(token)
    return AuthResponse(
        routes=["*"],
        principal_id=principal.user_id,
        context=principal.to_authorizer_context(),
    )


def _event_context(event: dict[str, Any]) -> RequestContext:
    request_context: dict[str, Any] = event.get("requestContext") or {}
    identity: dict[str, Any] = request_context.get("identity") or {}
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    return RequestContext(
        request_id=request_context.get("requestId"),
        route=request_context.get("resourcePath") or event.get("resource"),
        method=event.get("httpMethod") or request_context.get("httpMethod"),
        ip=identity.get("sourceIp"),
        user_agent=headers.get("user-agent", "")[:256] or None,
    )


def handle_request_authorizer(event: dict[str, Any]) -> dict[str, Any]:
    """A REQUEST authorizer event in, an IAM policy out; raises AuthorizerDenied (401).

    A cookie request failing the CSRF check gets an explicit Deny (API Gateway: 403).
    """
    method_arn = str(event.get("methodArn", ""))
    if startup.refusal() is not None:
        raise startup.ConfigurationRefused()  # API Gateway answers 500 (AUTHORIZER_FAILURE)
    token = set_context(_event_context(event))
    try:
        method = str(event.get("httpMethod") or current_context().method or "")
        principal = authenticate_request(RequestView.of(method, event.get("headers")))
    except CsrfRejected as error:
        if error.principal is not None:
            bind_principal(error.principal.user_id, error.principal.organization_id)
        emit("security.authorization_failure", reason="csrf_origin", status=403)
        return _deny(error.principal.user_id if error.principal else "anonymous", method_arn)
    except Unauthenticated as error:
        _report_invalid(error)
        raise AuthorizerDenied() from None
    finally:
        reset_context(token)
    return _allow(principal, method_arn)


@authorizer_bp.lambda_function(name="deskguard_request_authorizer")
def deskguard_request_authorizer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda entry point of the REQUEST authorizer (handler in docs/identity.md)."""
    return handle_request_authorizer(event)
