"""The authorizer's decision, free of Chalice: a request view in, a Principal out.

Credentials, in this order:
1. `Authorization: Bearer <token>`: an API token (`dgt_...`) or a session JWT. When the header is
   present it alone decides (a bad header is never rescued by a cookie).
2. The session cookie (`deskguard_session=<session JWT>`), for browsers. A cookie-borne request
   that changes state must come from an allowed `Origin` (CSRF defense, with SameSite=Strict).
Anything else, or any failure, raises Unauthenticated (401); a CSRF failure raises CsrfRejected
(403). Both the TOKEN authorizer (bearer only) and the REQUEST authorizer (bearer or cookie) call
this module, so the deployed API, `make run` and the tests decide alike.

The JWT path verifies the signature locally and makes exactly one AWS call: the BatchGetItem of
`revocation.read_credential_state` (user item, per-user revocation marker, jti denylist item).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from chalicelib.auth import api_tokens
from chalicelib.auth.sessions import decode_session, issued_at_ms, principal_from_claims
from chalicelib.authz.principal import Credential, Principal, Role
from chalicelib.core.errors import Forbidden, Unauthenticated
from chalicelib.core.settings import get_settings
from chalicelib.identity import revocation

MAX_CREDENTIAL_LENGTH = 4096
SESSION_COOKIE = "deskguard_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Forbidden):
    """A cookie-authenticated, state-changing request without an allowed Origin."""

    default_message = "Cross-site request refused."

    def __init__(self, principal: Principal | None = None) -> None:
        super().__init__()
        self.principal = principal  # who the cookie belonged to, for the security event


@dataclasses.dataclass(frozen=True)
class RequestView:
    """The parts of an HTTP request the authorizer looks at (header names lower-cased)."""

    method: str
    headers: Mapping[str, str]

    @classmethod
    def of(cls, method: str, headers: Mapping[str, str] | None) -> RequestView:
        return cls(
            method=method.upper(),
            headers={str(k).lower(): str(v) for k, v in (headers or {}).items()},
        )


def bearer_credential(header_value: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not header_value or len(header_value) > MAX_CREDENTIAL_LENGTH:
        raise Unauthenticated()
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


def session_cookie(cookie_header: str | None) -> str | None:
    """The session cookie's value from a `Cookie` header, if present (first occurrence wins)."""
    if not cookie_header or len(cookie_header) > 2 * MAX_CREDENTIAL_LENGTH:
        return None
    for part in cookie_header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep and name == SESSION_COOKIE and value:
            return value.strip().strip('"')
    return None


def check_csrf(method: str, headers: Mapping[str, str]) -> None:
    """Refuse a state-changing cookie request unless `Origin` is one of ALLOWED_ORIGINS.

    Browsers send `Origin` on every cross-origin request and on same-origin POST/PUT/PATCH/DELETE;
    a missing or foreign Origin on a cookie-authenticated write is therefore refused.
    """
    if method.upper() in SAFE_METHODS:
        return
    origin = headers.get("origin")
    if not origin or origin not in get_settings().allowed_origins:
        raise CsrfRejected()


def verify_session(token: str, credential: Credential = Credential.BEARER) -> Principal:
    """A session JWT's principal: signature and claims, then the one revocation read."""
    claims = decode_session(token)
    principal = principal_from_claims(claims)
    state = revocation.read_credential_state(
        principal.organization_id, principal.user_id, jti=principal.token_id
    )
    user = state.user
    if user is None or not user.active or Role(user.role) is not principal.role:
        raise Unauthenticated()  # deleted, deactivated, or role changed since login
    if state.jti_revoked:
        raise Unauthenticated()
    valid_from = user.sessions_valid_from_ms
    if valid_from is not None and issued_at_ms(claims) < int(valid_from):
        raise Unauthenticated()  # issued before a role change
    # `iat` has one-second resolution: a token from the revocation's own second is refused too.
    if state.revoked_before_ms is not None and int(claims["iat"]) * 1000 < state.revoked_before_ms:
        raise Unauthenticated()
    return dataclasses.replace(principal, credential=credential, expires_at=int(claims["exp"]))


def authenticate_bearer(token: str) -> Principal:
    """A bearer credential: API token or session JWT."""
    if api_tokens.is_api_token(token):
        return api_tokens.authenticate_api_token(token)
    return verify_session(token)


def authenticate(header_value: str | None) -> Principal:
    """The TOKEN authorizer's path: the `Authorization` header value only."""
    return authenticate_bearer(bearer_credential(header_value))


def authenticate_request(request: RequestView) -> Principal:
    """The REQUEST authorizer's path: bearer header first, else the session cookie (+ CSRF)."""
    authorization = request.headers.get("authorization")
    if authorization is not None:
        return authenticate_bearer(bearer_credential(authorization))
    token = session_cookie(request.headers.get("cookie"))
    if token is None or len(token) > MAX_CREDENTIAL_LENGTH:
        raise Unauthenticated()
    principal = verify_session(token, Credential.COOKIE)
    try:
        check_csrf(request.method, request.headers)
    except CsrfRejected:
        raise CsrfRejected(principal) from None
    return principal
