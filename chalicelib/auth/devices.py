"""Device cookies: "this browser logged in to this account before".

A successful login sets `deskguard_device`, a value signed with the service's keyed-hash key
(`core.keyed.sign`, purpose `device`) that binds a keyed hash of the account's e-mail, an expiry
(`LOGIN_DEVICE_TTL_SECONDS`) and a random device id. A later login to the SAME account that
presents it is let past the account-wide login slow-down (ratelimit `begin_login`), so an
attacker guessing an account's password from many addresses cannot keep its owner out. The
cookie is no credential: the password is still checked, and the device has its own small
failure budget. It is `HttpOnly`, `Secure`, `SameSite=Strict` and sent only to the login route.
"""

from __future__ import annotations

import json
import secrets
import time

from chalicelib.core.keyed import email_hash, sign, unsign
from chalicelib.core.settings import get_settings

DEVICE_COOKIE = "deskguard_device"
_PURPOSE = "device"
_MAX_COOKIE_HEADER = 8192
_ATTRIBUTES = "Path=/api/auth/login; Secure; HttpOnly; SameSite=Strict"


def cookie_value(cookie_header: str | None, name: str) -> str | None:
    """A cookie's value from a `Cookie` header (first occurrence wins)."""
    if not cookie_header or len(cookie_header) > _MAX_COOKIE_HEADER:
        return None
    for part in cookie_header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name and value:
            return value.strip().strip('"')
    return None


def issue_device_cookie(email: str, device_id: str | None = None) -> str:
    """The `Set-Cookie` value of a device cookie for this account (a new id unless given)."""
    ttl = get_settings().login_device_ttl_seconds
    payload = {
        "a": email_hash(email),
        "d": device_id or secrets.token_hex(8),
        "e": int(time.time()) + ttl,
    }
    value = sign(_PURPOSE, json.dumps(payload, separators=(",", ":")).encode())
    return f"{DEVICE_COOKIE}={value}; Max-Age={ttl}; {_ATTRIBUTES}"


def trusted_device(cookie_header: str | None, email: str) -> str | None:
    """The device id if the request carries a valid, unexpired device cookie of this account."""
    value = cookie_value(cookie_header, DEVICE_COOKIE)
    raw = unsign(_PURPOSE, value) if value else None
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        account, device_id, expires = data["a"], data["d"], data["e"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(device_id, str) or not isinstance(expires, int) or expires < time.time():
        return None
    if account != email_hash(email):
        return None
    return device_id
