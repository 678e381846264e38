"""Every registered route has a rule in the one RBAC table, and the table names no dead route."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.authz import policy
from chalicelib.authz.principal import Principal, Role
from chalicelib.core.errors import Forbidden


def _registered(app: Any) -> set[tuple[str, str]]:
    return {(method, path) for path, methods in app.routes.items() for method in methods}


def test_every_route_is_in_the_policy_table(app: Any) -> None:
    missing = sorted(_registered(app) - set(policy.POLICY))
    assert missing == [], f"routes without an RBAC rule: {missing}"


def test_policy_table_has_no_stale_entries(app: Any) -> None:
    stale = sorted(set(policy.POLICY) - _registered(app))
    assert stale == [], f"RBAC rules for routes that do not exist: {stale}"


def test_public_rules_and_authorizers_agree(app: Any) -> None:
    public = {key for key, rule in policy.POLICY.items() if rule.public}
    assert {("GET", "/api/health"), ("POST", "/api/auth/login")} <= public
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            expected_public = (method, path) in public
            assert (entry.authorizer is None) == expected_public, (method, path)


def test_unlisted_route_is_refused_to_everyone() -> None:
    admin = Principal(user_id="u", organization_id="o", role=Role.ADMIN)
    with pytest.raises(Forbidden):
        policy.check(admin, "GET", "/api/not-in-the-table")


def test_api_token_scopes_in_policy_are_known_scopes() -> None:
    used = {rule.scope for rule in policy.POLICY.values() if rule.scope}
    assert used <= policy.SCOPES
