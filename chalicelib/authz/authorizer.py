"""The authorizer's decision, free of Chalice: credential string in, Principal out.

Accepts `Bearer <session JWT>` (and, once API tokens exist, `Bearer <api token>`). Anything else,
or any failure, raises Unauthenticated; the HTTP layer turns that into API Gateway's 401.
"""

from __future__ import annotations

from chalicelib.authz import revocation
from chalicelib.authz.principal import Principal
from chalicelib.authz.sessions import decode_session, principal_from_claims
from chalicelib.core.errors import Unauthenticated

MAX_CREDENTIAL_LENGTH = 4096


def bearer_credential(header_value: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if not header_value or len(header_value) > MAX_CREDENTIAL_LENGTH:
        raise Unauthenticated()
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


def authenticate(header_value: str | None) -> Principal:
    """Verify a credential and return the principal it stands for."""
    token = bearer_credential(header_value)
    claims = decode_session(token)
    principal = principal_from_claims(claims)
    # Revocation marker (containment, admin action); see chalicelib/authz/revocation.py.
    if revocation.is_revoked(principal.organization_id, principal.user_id, int(claims["iat"])):
        raise Unauthenticated()
    return principal
