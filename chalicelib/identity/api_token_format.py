"""What verifying an API token needs from its format, without the management code.

`identity.api_tokens` creates, lists, rotates and revokes tokens (audit, transactions, cursors);
the authorizer only parses a presented token, hashes its secret and reads the stored item's
status. Those three live here, on the authorizer's import path, so a cold authorizer does not
load the management side. `identity.api_tokens` re-exports them.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chalicelib.identity.models import ApiTokenModel

TOKEN_MARKER = "dgt_"  # noqa: S105 (a public prefix, not a secret)


def hash_secret(secret: str) -> str:
    """The stored form of a token's secret: SHA-256, hex (a random 256-bit secret needs no KDF)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def token_status(item: ApiTokenModel, now: int | None = None) -> str:
    """`active`, `rotating` (predecessor in its grace period), `revoked` or `expired`."""
    now = int(time.time()) if now is None else now
    if item.revoked_at is not None:
        return "revoked"
    if now >= int(item.expires_at):
        return "expired"
    if item.grace_until is not None:
        return "rotating" if now < int(item.grace_until) else "revoked"
    return "active"
