"""Route classes: which routes share a rate limit and a metrics dimension.

Concrete routes are checked against the class the product intends for them (written out here,
not derived from the table), and every route the table names must be one the app serves.
"""

from __future__ import annotations

import re

import pytest

import app as app_module
from chalicelib.core import route_classes
from chalicelib.core.route_classes import (
    ATTACHMENT_CREATE,
    AUTH,
    BULK,
    COMMENT_CREATE,
    DEFAULT,
    TICKET_CREATE,
    route_class,
)

# (method, path template as the app registers it) -> the class it must be limited under.
KNOWN_ROUTES = [
    ("POST", "/api/auth/login", AUTH),
    ("POST", "/api/tickets", TICKET_CREATE),
    ("POST", "/api/tickets/{ticket_id}/comments", COMMENT_CREATE),
    ("POST", "/api/tickets/bulk", BULK),
    ("POST", "/api/tickets/{ticket_id}/attachments", ATTACHMENT_CREATE),
    ("GET", "/api/tickets", DEFAULT),
    ("GET", "/api/tickets/{ticket_id}", DEFAULT),
    ("PATCH", "/api/tickets/{ticket_id}", DEFAULT),
    ("GET", "/api/tickets/{ticket_id}/comments", DEFAULT),
    ("GET", "/api/tickets/{ticket_id}/attachments", DEFAULT),
    ("POST", "/api/auth/logout", DEFAULT),
    ("GET", "/api/me", DEFAULT),
]


def _served() -> set[tuple[str, str]]:
    """Every (method, path template) the app serves, path parameters blanked to `{}`."""
    return {
        (method, re.sub(r"\{[^}]*\}", "{}", path))
        for path, methods in app_module.app.routes.items()
        for method in methods
    }


@pytest.mark.parametrize(("method", "path", "expected"), KNOWN_ROUTES)
def test_known_routes_map_to_their_class(method: str, path: str, expected: str) -> None:
    assert method in app_module.app.routes[path], f"{method} {path} is not served"
    assert route_class(method, path) == expected
    # The parameter's name does not matter, nor does the method's case.
    renamed = re.sub(r"\{[^}]*\}", "{id}", path)
    assert route_class(method.lower(), renamed) == expected


def test_unknown_or_missing_routes_are_default() -> None:
    assert route_class("GET", "/api/auth/login") == DEFAULT
    assert route_class("POST", "/api/tickets/{ticket_id}") == DEFAULT
    assert route_class(None, "/api/tickets") == DEFAULT
    assert route_class("POST", None) == DEFAULT
    assert route_class("POST", "/api/tickets/") == DEFAULT


def test_every_route_class_key_is_a_registered_route() -> None:
    missing = set(route_classes.ROUTE_CLASSES) - _served()
    assert not missing, f"rate-limit classes for routes that do not exist: {sorted(missing)}"


def test_every_limited_class_is_used_by_a_served_route() -> None:
    """Each named class (not the default) limits at least one route the app serves."""
    served_classes = {route_class(method, path) for method, path in _served()}
    assert served_classes >= {AUTH, TICKET_CREATE, COMMENT_CREATE, BULK, ATTACHMENT_CREATE}
