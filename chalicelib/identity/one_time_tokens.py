"""One-time tokens for password reset and first-login setup (invitations).

A token is `dgp_<organization>.<secret>`: 32 random bytes (`secrets.token_urlsafe`) after the
organization it belongs to. Only its SHA-256 is stored, under that organization's partition
(`ORG#<org>` / `OTT#<hash>`), so a token edited to name another organization finds nothing.
The item binds the token to one user and to the user's password version at issue time; the
consuming write (`consume_ops`) sets `used_at` on the condition that it is still unset and
unexpired, in the same transaction as the password change, whose own condition is that the
password version is still the issued one. So a token works once, before it expires, and never
after the password changed by any path.

Every failure is the same 400: an attacker learns neither whether a token existed, nor whether
it was used, expired or belonged to someone whose password has since changed.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.transactions import TransactWrite

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity.models import ONE_TIME_TOKEN_PREFIX, OneTimeTokenModel

RESET = "reset"
SETUP = "setup"
TOKEN_PREFIX = "dgp_"  # noqa: S105 (a recognizable prefix for secret scanners, not a secret)
_PURGE_AFTER_SECONDS = 86400
_TOKEN = re.compile(r"^dgp_([a-z0-9][a-z0-9-]{1,38}[a-z0-9])\.([A-Za-z0-9_-]{43})$")


class InvalidToken(ValidationFailed):
    """A token that is unknown, used, expired, or outdated by a password change."""

    default_message = "This link is invalid or has expired; ask for a new one."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ttl_seconds(purpose: str) -> int:
    settings = get_settings()
    return (
        settings.password_setup_ttl_seconds
        if purpose == SETUP
        else settings.password_reset_ttl_seconds
    )


def new_token(
    organization_id: str, user_id: str, purpose: str, password_version: int
) -> tuple[str, OneTimeTokenModel]:
    """A fresh token and the item that stores its hash (not yet written; see `issue`)."""
    token = f"{TOKEN_PREFIX}{organization_id}.{secrets.token_urlsafe(32)}"
    now = int(time.time())
    expires_at = now + ttl_seconds(purpose)
    item = OneTimeTokenModel(
        org_pk(organization_id),
        f"{ONE_TIME_TOKEN_PREFIX}{token_hash(token)}",
        organization_id=organization_id,
        user_id=user_id,
        purpose=purpose,
        password_version=password_version,
        created_at=now,
        expires_at=expires_at,
        purge_at=datetime.fromtimestamp(expires_at + _PURGE_AFTER_SECONDS, UTC),
    )
    return token, item


def save_ops(tx: TransactWrite, item: OneTimeTokenModel) -> None:
    """Write a new token's item inside a transaction (never overwriting one)."""
    tx.save(item, condition=OneTimeTokenModel.pk.does_not_exist())


def issue(organization_id: str, user_id: str, purpose: str, password_version: int) -> str:
    """Store a new token's hash and return the token (to be mailed, never logged)."""
    token, item = new_token(organization_id, user_id, purpose, password_version)
    item.save(condition=OneTimeTokenModel.pk.does_not_exist())
    return token


def organization_of(token: str) -> str:
    """The organization a well-formed token names, or InvalidToken."""
    match = _TOKEN.match(token)
    if match is None:
        raise InvalidToken()
    return match.group(1)


def find_valid(token: str) -> OneTimeTokenModel:
    """The stored, unused, unexpired token (one strongly consistent read), or InvalidToken."""
    organization_id = organization_of(token)
    try:
        item = OneTimeTokenModel.get(
            org_pk(organization_id),
            f"{ONE_TIME_TOKEN_PREFIX}{token_hash(token)}",
            consistent_read=True,
        )
    except DoesNotExist:
        raise InvalidToken() from None
    if item.used_at is not None or int(item.expires_at) <= int(time.time()):
        raise InvalidToken()
    return item


def consume_ops(tx: TransactWrite, item: OneTimeTokenModel) -> None:
    """Mark the token used inside the transaction that changes the password: only if it is
    still unused and unexpired at write time (a second, concurrent use fails here)."""
    now = int(time.time())
    tx.update(
        item,
        actions=[OneTimeTokenModel.used_at.set(now)],
        condition=OneTimeTokenModel.used_at.does_not_exist() & (OneTimeTokenModel.expires_at > now),
    )
