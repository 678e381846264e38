"""Session JWTs: issued at login, verified by the authorizer.

EdDSA only (the codec in `keys` knows no other algorithm); every claim of `REQUIRED_CLAIMS`
must be present; issuer, audience and expiry are checked with a small explicit leeway. The
algorithm is fixed in code, never read from the token.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

import jwt

from chalicelib.auth.jwt_codec import ALGORITHM, decode_jwt, encode_jwt
from chalicelib.authz.principal import Principal, Role, TokenType
from chalicelib.core.errors import ForgedCredential, Unauthenticated
from chalicelib.core.keyring import keyring, public_key
from chalicelib.core.settings import get_settings

LEEWAY_SECONDS = 30
REQUIRED_CLAIMS = ("sub", "role", "organizationId", "iat", "exp", "jti", "iss", "aud")


@dataclasses.dataclass(frozen=True)
class IssuedSession:
    token: str
    jti: str
    expires_at: int


def issue_session(user_id: str, organization_id: str, role: Role) -> IssuedSession:
    """Sign a session token for a user with the active key."""
    settings = get_settings()
    kid, key = keyring().signing_key()
    jti = uuid.uuid4().hex
    issued_ms = time.time_ns() // 1_000_000
    now = issued_ms // 1000
    expires_at = now + settings.session_ttl_seconds
    claims = {
        "iat_ms": issued_ms,  # for comparisons with per-user cut-offs in milliseconds
        "sub": user_id,
        "role": role.value,
        "organizationId": organization_id,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
        "jti": jti,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    token = encode_jwt(claims, key, kid)
    return IssuedSession(token=token, jti=jti, expires_at=expires_at)


def decode_session(token: str) -> dict[str, Any]:
    """Verify signature and claims; any failure is a plain 401 (the reason is not disclosed)."""
    settings = get_settings()
    try:
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthenticated()
        verify_key = public_key(kid)  # an unknown kid may reload the keyring once per interval
        if verify_key is None:
            raise Unauthenticated()
        return decode_jwt(
            token,
            verify_key,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.InvalidSignatureError as error:
        raise ForgedCredential() from error  # a known kid, a signature it did not make
    except jwt.PyJWTError as error:
        raise Unauthenticated() from error


def issued_at_ms(claims: dict[str, Any]) -> int:
    """When a verified session was issued, in ms (`iat_ms` if it agrees with `iat`)."""
    iat = int(claims["iat"])
    precise = claims.get("iat_ms")
    if isinstance(precise, int) and precise // 1000 == iat:
        return precise
    return iat * 1000


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """The principal a verified session token stands for."""
    try:
        return Principal(
            user_id=str(claims["sub"]),
            organization_id=str(claims["organizationId"]),
            role=Role(claims["role"]),
            token_type=TokenType.SESSION,
            token_id=str(claims["jti"]),
        )
    except (KeyError, ValueError) as error:
        raise Unauthenticated() from error
