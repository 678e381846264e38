"""Keyed hashes (HMAC-SHA256) with the service's security key, separated by purpose.

Used to pseudonymize e-mail addresses in security events and limiter keys (the same address always
maps to the same value, so ops can correlate attempts without ever logging the address), and to
sign list cursors (`chalicelib/core/cursors.py`). The key, first match wins: `SECURITY_HMAC_KEY`;
on local/test stages a fixed development key; else the `hmac` field of the stage's keyring secret
(`python -m cli keys init` stores one), loaded with the signing keys once per cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from chalicelib.core.b64 import b64url, b64url_decode
from chalicelib.core.keyring import keyring
from chalicelib.core.settings import get_settings

_LOCAL_KEY = b"deskguard-local-development-hmac-key"


def service_key() -> bytes:
    """The keyed-hash key (see the module docstring); RuntimeError if a deployed stage has none."""
    settings = get_settings()
    if settings.security_hmac_key:
        return settings.security_hmac_key.encode()
    if settings.is_local and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return _LOCAL_KEY  # never inside Lambda: see chalicelib/core/startup.py
    key = keyring().hmac_key
    if key is None:
        raise RuntimeError("no keyed-hash key: run `python -m cli keys init` for this stage")
    return key


def keyed_digest(purpose: str, data: str | bytes) -> bytes:
    """HMAC-SHA256 of `data` under the service key, domain-separated by `purpose`."""
    raw = data.encode() if isinstance(data, str) else data
    return hmac.new(service_key(), purpose.encode() + b"\x00" + raw, hashlib.sha256).digest()


def email_hash(email: str) -> str:
    """The pseudonym of an e-mail address (normalized: trimmed, lower-cased); 32 hex chars."""
    return keyed_digest("email", email.strip().lower()).hex()[:32]


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
