"""`/api/users`: the organization's directory for agents and admins (names, roles, e-mails).

Requesters are refused by the RBAC table; they see the names of the staff on their own tickets
in the ticket, comment and attachment bodies instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.authz.principal import Role
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.identity import schemas as models
    from chalicelib.identity import users
else:
    users = lazy_module("chalicelib.identity.users")
    models = deferred_names("chalicelib.identity.schemas")

directory_bp = Blueprint(__name__)


@api_route(
    directory_bp,
    "/users",
    methods=["GET"],
    operation_id="listDirectoryUsers",
    query=models.DirectoryQuery,
    response=models.DirectoryUserOut,
    paginated=True,
    summary=(
        "The organization's people sorted by name, a page at a time; `role` filters by role, "
        "`q` by a name or e-mail prefix (case-insensitive)."
    ),
)
def list_directory(call: ApiCall) -> dict[str, Any]:
    query = call.query(models.DirectoryQuery)
    page = users.list_directory(
        call.principal.organization_id,
        role=None if query.role is None else Role(query.role),
        q=query.q,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page.dump(models.DirectoryUserOut)


@api_route(
    directory_bp,
    "/users/{user_id}",
    methods=["GET"],
    operation_id="getDirectoryUser",
    response=models.DirectoryUserOut,
    summary="One person of the caller's organization (404 for anyone else).",
)
def get_directory_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    return models.DirectoryUserOut.dump(users.get_user(call.principal.organization_id, user_id))
