"""Opaque, signed list cursors bound to the organization, the caller and the query.

A cursor is `base64url(json payload) . base64url(HMAC-SHA256(payload))`. The payload carries the
organization id, a binding string (caller and query: index and filters), an expiry and the
DynamoDB position. Anything that does not verify, expired, or was minted for another
organization, caller or query is a 400 (never a silent restart, never another org's position).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings

MAX_CURSOR_LENGTH = 2048
_LOCAL_DEV_KEY = "deskguard-local-cursor-key-not-for-production"


def _key() -> bytes:
    settings = get_settings()
    if settings.cursor_signing_key:
        return settings.cursor_signing_key.encode()
    if settings.is_local:
        return _LOCAL_DEV_KEY.encode()
    raise RuntimeError("CURSOR_SIGNING_KEY is not configured")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _invalid() -> ValidationFailed:
    return ValidationFailed(
        "The cursor is not valid for this request.",
        details=[{"field": "cursor", "message": "invalid, expired or issued for another query"}],
    )


def encode(organization_id: str, binding: str, position: dict[str, Any]) -> str:
    """A signed cursor for `position` (a DynamoDB LastEvaluatedKey) within one org and query."""
    payload = json.dumps(
        {
            "o": organization_id,
            "b": binding,
            "e": int(time.time()) + get_settings().cursor_ttl_seconds,
            "p": position,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    signature = hmac.new(_key(), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(signature)}"


def decode(organization_id: str, binding: str, cursor: str) -> dict[str, Any]:
    """The position inside a cursor, after checking signature, expiry, organization and query."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH or cursor.count(".") != 1:
        raise _invalid()
    payload_b64, signature_b64 = cursor.split(".")
    try:
        payload = _unb64(payload_b64)
        signature = _unb64(signature_b64)
    except (binascii.Error, ValueError):
        raise _invalid() from None
    expected = hmac.new(_key(), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise _invalid()
    try:
        data = json.loads(payload)
    except ValueError:
        raise _invalid() from None
    if (
        not isinstance(data, dict)
        or data.get("o") != organization_id
        or data.get("b") != binding
        or not isinstance(data.get("e"), int)
        or data["e"] < time.time()
        or not isinstance(data.get("p"), dict)
    ):
        raise _invalid()
    position: dict[str, Any] = data["p"]
    return position
