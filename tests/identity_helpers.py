"""Helpers for the identity tests: forge JWTs, read security events from captured output."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
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


EVENT_KEYS = (
    "category",
    "request_id",
    "user_id",
    "organization_id",
    "route",
    "method",
    "ip",
    "reason",
    "status",
    "action",
    "token_id",
    "token_prefix",
    "target_id",
)


def read_events(
    caplog: pytest.LogCaptureFixture, category: str | None = None
) -> list[dict[str, Any]]:
    """Security events logged so far in the test, as dicts (and clears the capture)."""
    events = []
    for record in caplog.records:
        name = getattr(record, "category", None)
        if isinstance(name, str) and (category is None or name == category):
            events.append({key: getattr(record, key, None) for key in EVENT_KEYS})
    caplog.clear()
    return events


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, formatted as the Lambda would print it (JSON, extras included)."""
    from chalicelib.core.observability import logger

    formatter = logger.registered_formatter
    return "\n".join(formatter.format(record) for record in caplog.records)
