"""Password hashing with bcrypt. bcrypt only reads 72 bytes, so longer passwords are refused
rather than silently truncated; the cost comes from settings (production default 12)."""

from __future__ import annotations

import secrets

import bcrypt

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import get_settings
from chalicelib.identity.common_passwords import is_common

MIN_PASSWORD_BYTES = 12
MAX_PASSWORD_BYTES = 72


def validate_password(password: str) -> bytes:
    """The password's UTF-8 bytes, or a 400 naming the rule it breaks."""
    raw = password.encode("utf-8")
    if not MIN_PASSWORD_BYTES <= len(raw) <= MAX_PASSWORD_BYTES:
        raise ValidationFailed(
            f"Password must be {MIN_PASSWORD_BYTES} to {MAX_PASSWORD_BYTES} bytes long.",
            details=[{"field": "password", "message": "length out of range"}],
        )
    return raw


def validate_new_password(password: str, field: str = "password") -> None:
    """A password a user chooses now: the length rule, then the breached/common list (400)."""
    try:
        validate_password(password)
    except ValidationFailed as error:
        raise ValidationFailed(
            error.message, details=[{"field": field, "message": "length out of range"}]
        ) from None
    if is_common(password):
        raise ValidationFailed(
            "This password appears in lists of breached or common passwords; choose another.",
            details=[{"field": field, "message": "breached or common password"}],
        )


def hash_password(password: str) -> str:
    """A bcrypt hash at the configured cost."""
    raw = validate_password(password)
    return bcrypt.hashpw(raw, bcrypt.gensalt(rounds=get_settings().bcrypt_rounds)).decode()


def verify_password(password: str, password_hash: str) -> bool:
    """Constant-work check; over-long input is simply wrong (never truncated)."""
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raw = raw[:0]
    return bcrypt.checkpw(raw, password_hash.encode())


_dummy_hash: str | None = None


def dummy_hash() -> str:
    """A bcrypt hash at the configured cost that no password matches by chance, for logins to
    unknown accounts (made once per process)."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(24))
    return _dummy_hash


def burn_dummy_check(password: str) -> None:
    """Spend one bcrypt check at the configured cost (a login to an unknown account)."""
    verify_password(password, dummy_hash())
