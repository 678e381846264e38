"""Keyed hashes (HMAC-SHA256) with the service's security key, separated by purpose.

Used to pseudonymize e-mail addresses in security events and limiter keys (the same address always
maps to the same value, so ops can correlate attempts without ever logging the address), and to
sign opaque cursors. The key comes from settings (`SECURITY_HMAC_KEY`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from chalicelib.core.settings import get_settings


def keyed_digest(purpose: str, data: str | bytes) -> bytes:
    """HMAC-SHA256 of `data` under the service key, domain-separated by `purpose`."""
    raw = data.encode() if isinstance(data, str) else data
    return hmac.new(
        get_settings().hmac_key(), purpose.encode() + b"\x00" + raw, hashlib.sha256
    ).digest()


def email_hash(email: str) -> str:
    """The pseudonym of an e-mail address (normalized: trimmed, lower-cased); 32 hex chars."""
    return keyed_digest("email", email.strip().lower()).hex()[:32]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(purpose: str, payload: bytes) -> str:
    """`<payload b64url>.<mac b64url>`: an opaque, tamper-evident token."""
    body = b64url(payload)
    return f"{body}.{b64url(keyed_digest(purpose, body))}"


def unsign(purpose: str, token: str) -> bytes | None:
    """The payload of a token made by `sign(purpose, ...)`, or None if it was not."""
    body, _, mac = token.partition(".")
    if not body or not mac:
        return None
    try:
        expected = b64url(keyed_digest(purpose, body))
        # compare_digest refuses non-ASCII str (TypeError): such a MAC is simply not ours.
        if not mac.isascii() or not hmac.compare_digest(expected, mac):
            return None
        return b64url_decode(body)
    except (ValueError, UnicodeError):
        return None
