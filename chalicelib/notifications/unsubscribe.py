"""One-click unsubscribe (RFC 8058): a signed token bound to one user, organization and kind.

The token is `core.keyed.sign` over the three values under its own purpose, so it can neither
be forged nor moved to another user, organization or notification kind; applying it turns
that one kind off and is idempotent. It carries no secret: all it can do is stop a mail.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from chalicelib.core.errors import NotFound
from chalicelib.core.keyed import sign, unsign
from chalicelib.core.settings import get_settings
from chalicelib.identity import notification_preferences

PURPOSE = "mail-unsubscribe"
UNSUBSCRIBE_PATH = "/api/notifications/unsubscribe"


def token_for(organization_id: str, user_id: str, kind: str) -> str:
    payload = json.dumps({"o": organization_id, "u": user_id, "k": kind}, separators=(",", ":"))
    return sign(PURPOSE, payload.encode())


def read_token(token: str) -> tuple[str, str, str] | None:
    """(organization, user, kind) of a genuine token, or None."""
    payload = unsign(PURPOSE, token)
    if payload is None:
        return None
    try:
        values = json.loads(payload)
        organization_id, user_id, kind = values["o"], values["u"], values["k"]
    except (ValueError, KeyError, TypeError):
        return None
    if not all(isinstance(value, str) for value in (organization_id, user_id, kind)):
        return None
    if kind not in notification_preferences.KINDS:
        return None
    return organization_id, user_id, kind


def unsubscribe_url(organization_id: str, user_id: str, kind: str) -> str:
    """The https link of `List-Unsubscribe` (one-click POST) and of the mail's footer."""
    token = quote(token_for(organization_id, user_id, kind), safe="")
    return f"{get_settings().public_app_url}{UNSUBSCRIBE_PATH}?token={token}"


def unsubscribe_mailbox() -> str:
    """The address of the `mailto:` unsubscribe (inbound mail to it is `chalicelib.intake`'s)."""
    return f"unsubscribe@{get_settings().mail_domain}"


def unsubscribe_mailto(organization_id: str, user_id: str, kind: str) -> str:
    """The `mailto:` alternative of `List-Unsubscribe` (the token in the subject)."""
    token = quote(token_for(organization_id, user_id, kind), safe="")
    return f"mailto:{unsubscribe_mailbox()}?subject=unsubscribe%20{token}"


def apply(token: str) -> tuple[str, str]:
    """Turn off the kind the token names; (organization, kind). NotFound for a forged token or
    a user that no longer exists (the two look the same)."""
    values = read_token(token)
    if values is None:
        raise NotFound()
    organization_id, user_id, kind = values
    if not notification_preferences.turn_off(organization_id, user_id, kind):
        raise NotFound()
    return organization_id, kind
