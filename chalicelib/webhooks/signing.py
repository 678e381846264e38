"""The delivery signature: `X-Deskguard-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`.

Each `v1` is the hex HMAC-SHA256, under one of the endpoint's secrets, of `"<t>.<body>"` (the
raw body bytes). During a rotation's grace period two `v1` values are sent, one per valid
secret; a receiver accepts the delivery if any of them matches a secret it knows and `t` is
recent. `verify` is the receiving side (docs/webhooks.md has a stand-alone copy to paste).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence

SECRET_MARKER = "whsec_"  # noqa: S105  # pragma: allowlist secret (a public prefix)
DEFAULT_TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return f"{SECRET_MARKER}{secrets.token_urlsafe(32)}"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets_in_force: Sequence[str], timestamp: int, body: bytes) -> str:
    """The header value: the timestamp and one `v1` per secret in force (newest first)."""
    parts = [f"t={timestamp}"] + [f"v1={signature(s, timestamp, body)}" for s in secrets_in_force]
    return ",".join(parts)


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True if `header` carries a `v1` of `body` under `secret` with a timestamp within
    `tolerance_seconds` of now (constant-time comparison)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
