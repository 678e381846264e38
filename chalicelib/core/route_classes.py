"""Route classes: which routes share a rate limit and a metrics dimension.

The HTTP boundary tags every request's metrics with its class, and the limiter
(`chalicelib/ratelimit/limiter.py`) keeps one limit per class.
"""

from __future__ import annotations

import re

AUTH = "auth"
PASSWORD = "password"  # noqa: S105  # pragma: allowlist secret (a route class name)
TICKET_CREATE = "ticket_create"
COMMENT_CREATE = "comment_create"
BULK = "bulk"
ATTACHMENT_CREATE = "attachment_create"
DEFAULT = "default"

# (METHOD, path template) -> route class. Path parameters are matched by position, not by name.
ROUTE_CLASSES: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/login"): AUTH,
    ("POST", "/api/me/password"): PASSWORD,
    ("POST", "/api/auth/password-reset"): PASSWORD,
    ("POST", "/api/auth/password-reset/complete"): PASSWORD,
    ("POST", "/api/tickets"): TICKET_CREATE,
    ("POST", "/api/tickets/{}/comments"): COMMENT_CREATE,
    ("POST", "/api/tickets/bulk"): BULK,
    ("POST", "/api/tickets/{}/attachments"): ATTACHMENT_CREATE,
}

_PARAM = re.compile(r"\{[^}]*\}")


def route_class(method: str | None, path: str | None) -> str:
    """The route class of a route (its path template, e.g. `/api/tickets/{id}/comments`)."""
    if not method or not path:
        return DEFAULT
    return ROUTE_CLASSES.get((method.upper(), _PARAM.sub("{}", path)), DEFAULT)
