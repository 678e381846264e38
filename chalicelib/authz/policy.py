"""The RBAC policy: one table from every route (method, path) to the roles and API-token scope
that may call it. The HTTP boundary asks `check()` before any handler runs; handlers never test
roles themselves. A test enumerates `app.routes` and fails when a route is missing here.

Finer, data-dependent rules (a requester may only see their own tickets) live in the domain
services; this table decides only whether a caller may reach the route at all.
"""

from __future__ import annotations

import dataclasses

from chalicelib.authz.principal import ALL_ROLES, Principal, Role, TokenType
from chalicelib.core.errors import Forbidden


@dataclasses.dataclass(frozen=True)
class Rule:
    """Who may call a route.

    `roles`: roles allowed. `scope`: the scope an API token must carry (None: any API token of an
    allowed role). `api_tokens`: False refuses API tokens outright (session-only routes).
    `public`: no credentials at all.
    """

    roles: frozenset[Role] = frozenset()
    scope: str | None = None
    api_tokens: bool = True
    public: bool = False


PUBLIC = Rule(public=True)
ADMIN_ONLY = frozenset({Role.ADMIN})

POLICY: dict[tuple[str, str], Rule] = {
    # Foundation
    ("GET", "/api/health"): PUBLIC,
    # Identity
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/me"): Rule(ALL_ROLES),
    # Proof (OpenAPI document)
    ("GET", "/api/openapi.json"): PUBLIC,
}

# Scopes an API token can be given. A token's effective rights are these scopes intersected with
# what its creator's role allows on each route.
SCOPES: frozenset[str] = frozenset(
    {
        "tickets:read",
        "tickets:write",
        "comments:write",
        "attachments:write",
        "admin:users",
        "admin:tokens",
        "admin:audit",
    }
)


def rule_for(method: str, path: str) -> Rule:
    """The rule for a route; a route missing from the table is refused to everyone."""
    return POLICY.get((method.upper(), path), Rule())


def check(principal: Principal | None, method: str, path: str) -> Rule:
    """Raise Forbidden unless the principal may call the route. Returns the rule applied."""
    rule = rule_for(method, path)
    if rule.public:
        return rule
    if principal is None or principal.role not in rule.roles:
        raise Forbidden()
    if principal.token_type is TokenType.API_TOKEN:
        if not rule.api_tokens:
            raise Forbidden("API tokens cannot be used on this route.")
        if rule.scope is not None and rule.scope not in principal.scopes:
            raise Forbidden(f"This API token lacks the '{rule.scope}' scope.")
    return rule
