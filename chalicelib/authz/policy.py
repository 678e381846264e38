"""The RBAC policy: one table from every route (method, path) to the roles and API-token scope
that may call it. The HTTP boundary asks `check()` before any handler runs; handlers never test
roles themselves. A test enumerates `app.routes` and fails when a route is missing here.

This table decides only whether a caller may reach a route at all. The rules that depend on the
object (a requester sees only their own tickets, internal notes are for staff, the status
workflow, who may delete an attachment) live in one policy module per domain, which the services
ask: `chalicelib.tickets.policy` (tickets, comments, bulk actions) and
`chalicelib.attachments.policy` (attachments).
"""

from __future__ import annotations

import dataclasses

from chalicelib.authz.principal import ALL_ROLES, STAFF_ROLES, Principal, Role, TokenType
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
    # Service
    ("GET", "/api/health"): PUBLIC,
    # Identity
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/me"): Rule(ALL_ROLES),
    # Passwords: changing one's own is session-only (an API token never stands for its owner's
    # password); requesting and completing a reset need no credentials at all.
    ("POST", "/api/me/password"): Rule(ALL_ROLES, api_tokens=False),
    ("POST", "/api/auth/password-reset"): PUBLIC,
    ("POST", "/api/auth/password-reset/complete"): PUBLIC,
    # Notification preferences: the caller's own. Changing them is session-only (an API token
    # acts for its owner in the helpdesk, not in their mailbox). The one-click unsubscribe of a
    # notification's List-Unsubscribe link carries its own signed token, no credentials.
    ("GET", "/api/me/notifications"): Rule(ALL_ROLES),
    ("PUT", "/api/me/notifications"): Rule(ALL_ROLES, api_tokens=False),
    ("POST", "/api/notifications/unsubscribe"): PUBLIC,
    # Tickets (per-ticket visibility, field and workflow rules live in chalicelib.tickets.policy)
    ("POST", "/api/tickets"): Rule(ALL_ROLES, scope="tickets:write"),
    ("GET", "/api/tickets"): Rule(ALL_ROLES, scope="tickets:read"),
    ("POST", "/api/tickets/bulk"): Rule(STAFF_ROLES, scope="tickets:write"),
    ("GET", "/api/tickets/{ticket_id}"): Rule(ALL_ROLES, scope="tickets:read"),
    ("PATCH", "/api/tickets/{ticket_id}"): Rule(ALL_ROLES, scope="tickets:write"),
    ("POST", "/api/tickets/{ticket_id}/merge"): Rule(STAFF_ROLES, scope="tickets:write"),
    ("POST", "/api/tickets/{ticket_id}/comments"): Rule(ALL_ROLES, scope="comments:write"),
    ("GET", "/api/tickets/{ticket_id}/comments"): Rule(ALL_ROLES, scope="tickets:read"),
    # Attachments (per-attachment rules live in chalicelib.attachments.policy)
    ("POST", "/api/tickets/{ticket_id}/attachments"): Rule(ALL_ROLES, scope="attachments:write"),
    ("GET", "/api/tickets/{ticket_id}/attachments"): Rule(ALL_ROLES, scope="tickets:read"),
    ("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}"): Rule(
        ALL_ROLES, scope="tickets:read"
    ),
    ("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}/download"): Rule(
        ALL_ROLES, scope="tickets:read"
    ),
    ("DELETE", "/api/tickets/{ticket_id}/attachments/{attachment_id}"): Rule(
        ALL_ROLES, scope="attachments:write"
    ),
    ("POST", "/api/auth/logout"): Rule(ALL_ROLES, api_tokens=False),
    # The directory: staff look people up (requesters see staff names in their ticket bodies).
    ("GET", "/api/users"): Rule(STAFF_ROLES, scope="users:read"),
    ("GET", "/api/users/{user_id}"): Rule(STAFF_ROLES, scope="users:read"),
    ("GET", "/api/admin/users"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("POST", "/api/admin/users"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("GET", "/api/admin/users/{user_id}"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("PATCH", "/api/admin/users/{user_id}"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("POST", "/api/admin/users/{user_id}/password-reset"): Rule(ADMIN_ONLY, scope="admin:users"),
    # Token management is session-only: a leaked API token cannot mint or extend tokens.
    ("GET", "/api/admin/tokens"): Rule(ADMIN_ONLY, api_tokens=False),
    ("POST", "/api/admin/tokens"): Rule(ADMIN_ONLY, api_tokens=False),
    ("POST", "/api/admin/tokens/{token_id}/rotate"): Rule(ADMIN_ONLY, api_tokens=False),
    ("DELETE", "/api/admin/tokens/{token_id}"): Rule(ADMIN_ONLY, api_tokens=False),
    # Security review: what containment cut off. Session-only, like token management: a leaked
    # API token must not be able to clear the flag its own probing raised.
    ("GET", "/api/admin/security/flags"): Rule(ADMIN_ONLY, api_tokens=False),
    ("POST", "/api/admin/security/flags/{flag_id}/clear"): Rule(ADMIN_ONLY, api_tokens=False),
    # Webhooks: session-only, like token management: a leaked API token must not be able to
    # point the organization's events at a server of its choosing or read the delivery log.
    ("POST", "/api/admin/webhooks"): Rule(ADMIN_ONLY, api_tokens=False),
    ("GET", "/api/admin/webhooks"): Rule(ADMIN_ONLY, api_tokens=False),
    ("GET", "/api/admin/webhooks/{webhook_id}"): Rule(ADMIN_ONLY, api_tokens=False),
    ("PATCH", "/api/admin/webhooks/{webhook_id}"): Rule(ADMIN_ONLY, api_tokens=False),
    ("DELETE", "/api/admin/webhooks/{webhook_id}"): Rule(ADMIN_ONLY, api_tokens=False),
    ("POST", "/api/admin/webhooks/{webhook_id}/rotate"): Rule(ADMIN_ONLY, api_tokens=False),
    ("GET", "/api/admin/webhooks/{webhook_id}/deliveries"): Rule(ADMIN_ONLY, api_tokens=False),
    ("POST", "/api/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Rule(
        ADMIN_ONLY, api_tokens=False
    ),
    # Agent groups (which tickets may go in a group, and who may be assigned, live in
    # chalicelib.tickets.groups and chalicelib.tickets.service).
    ("POST", "/api/admin/groups"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("GET", "/api/admin/groups"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("GET", "/api/admin/groups/{group_id}"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("PATCH", "/api/admin/groups/{group_id}"): Rule(ADMIN_ONLY, scope="admin:users"),
    ("PUT", "/api/admin/groups/{group_id}/members"): Rule(ADMIN_ONLY, scope="admin:users"),
    # Organization settings: session-only, a leaked API token must not widen what agents see.
    ("GET", "/api/admin/settings"): Rule(ADMIN_ONLY, api_tokens=False),
    ("PATCH", "/api/admin/settings"): Rule(ADMIN_ONLY, api_tokens=False),
    # SLA calendar and policy: session-only, like the other organization settings.
    ("GET", "/api/admin/sla/calendar"): Rule(ADMIN_ONLY, api_tokens=False),
    ("PUT", "/api/admin/sla/calendar"): Rule(ADMIN_ONLY, api_tokens=False),
    ("GET", "/api/admin/sla/policy"): Rule(ADMIN_ONLY, api_tokens=False),
    ("PUT", "/api/admin/sla/policy"): Rule(ADMIN_ONLY, api_tokens=False),
    # Inbound mail a failed SES verdict held back: its administrators review it. Releasing
    # overrides a failed SPF/DKIM/DMARC or spam verdict, and discarding destroys evidence, so
    # both are session-only like clearing a security flag: a leaked token can only read the list.
    ("GET", "/api/admin/mail/quarantine"): Rule(ADMIN_ONLY, scope="admin:mail"),
    ("POST", "/api/admin/mail/quarantine/{mail_id}/release"): Rule(ADMIN_ONLY, api_tokens=False),
    ("DELETE", "/api/admin/mail/quarantine/{mail_id}"): Rule(ADMIN_ONLY, api_tokens=False),
    # Audit
    ("GET", "/api/admin/audit"): Rule(ADMIN_ONLY, scope="admin:audit"),
    ("GET", "/api/admin/audit/verify"): Rule(ADMIN_ONLY, scope="admin:audit"),
    # The OpenAPI document
    ("GET", "/api/openapi.json"): PUBLIC,
}
# CORS preflights (`chalicelib.api.cors`): every path answers OPTIONS without credentials, as
# browsers send preflights without them.
POLICY.update({("OPTIONS", path): PUBLIC for _method, path in list(POLICY)})

# Scopes an API token can be given. A token's effective rights are these scopes intersected with
# what its creator's role allows on each route.
SCOPES: frozenset[str] = frozenset(
    {
        "tickets:read",
        "tickets:write",
        "users:read",
        "comments:write",
        "attachments:write",
        "admin:users",
        "admin:tokens",
        "admin:audit",
        "admin:mail",
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
