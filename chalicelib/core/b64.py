"""Strict unpadded base64url, the encoding of keys, cursors and signed tokens."""

from __future__ import annotations

import base64
import binascii


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Strict unpadded base64url (ValueError on anything else, non-ASCII included)."""
    try:
        return base64.b64decode(
            text.encode("ascii") + b"=" * (-len(text) % 4), altchars=b"-_", validate=True
        )
    except (binascii.Error, UnicodeEncodeError) as error:
        raise ValueError("not base64url") from error
