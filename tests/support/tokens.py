"""Forged and hand-made JWTs for the authentication attacks, built with the server's own keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
from nacl.signing import SigningKey

from chalicelib.auth.jwt_codec import encode_jwt
from chalicelib.core.keyring import keyring


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified (to build forgeries from a real token)."""
    return dict(jwt.decode(token, options={"verify_signature": False}))


def sign(claims: dict[str, Any], *, kid: str | None = None, key: Any = None) -> str:
    """Sign claims with the server's active key (or `key`), EdDSA."""
    ring = keyring()
    active_kid, active_key = ring.signing_key()
    return encode_jwt(claims, key or active_key, kid or active_kid)


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(claims).encode()), b64(signature)]
    )


def hs256_with_public_key(claims: dict[str, Any]) -> str:
    """The classic key-confusion forgery: HMAC-SHA256 keyed with the server's public key, as
    the keyring publishes it (base64url text)."""
    ring = keyring()
    kid = ring.active_kid
    published = b64(bytes(ring.public_keys[kid])).encode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    mac = hmac.new(published, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(mac)}"


def foreign_key() -> SigningKey:
    return SigningKey.generate()


def now() -> int:
    return int(time.time())
