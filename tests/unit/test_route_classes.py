"""Every route the rate-limit table names exists, and each names the class the table intends."""

from __future__ import annotations

import re
from typing import Any

from chalicelib.core import route_classes


def _registered(app: Any) -> set[tuple[str, str]]:
    return {
        (method, re.sub(r"\{[^}]*\}", "{}", path))
        for path, methods in app.routes.items()
        for method in methods
    }


def test_every_route_class_key_is_a_registered_route(app: Any) -> None:
    missing = set(route_classes.ROUTE_CLASSES) - _registered(app)
    assert not missing, f"rate-limit classes for routes that do not exist: {sorted(missing)}"


def test_registered_routes_map_to_their_class(app: Any) -> None:
    for path, methods in app.routes.items():
        for method in methods:
            key = (method, re.sub(r"\{[^}]*\}", "{}", path))
            expected = route_classes.ROUTE_CLASSES.get(key, route_classes.DEFAULT)
            assert route_classes.route_class(method, path) == expected, (method, path)
