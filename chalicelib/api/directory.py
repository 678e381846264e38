"""`/api/users`: the organization's directory for agents and admins (names, roles, e-mails).

Requesters are refused by the RBAC table; they see the names of the staff on their own tickets
in the ticket, comment and attachment bodies instead.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from chalice.app import Blueprint
from pydantic import AfterValidator, Field

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.authz.principal import Role
from chalicelib.core.list_query import ListQuery
from chalicelib.core.text import check_one_line
from chalicelib.identity import users
from chalicelib.identity.schemas import DirectoryUserOut

directory_bp = Blueprint(__name__)

SearchPrefix = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_one_line)]


class DirectoryQuery(ListQuery):
    """`role`: only that role; `q`: name or e-mail starts with it (case-insensitive)."""

    role: Literal["REQUESTER", "AGENT", "ADMIN"] | None = None
    q: SearchPrefix | None = None


@api_route(
    directory_bp,
    "/users",
    methods=["GET"],
    operation_id="listDirectoryUsers",
    query=DirectoryQuery,
    response=DirectoryUserOut,
    paginated=True,
    summary=(
        "The organization's people sorted by name, a page at a time; `role` filters by role, "
        "`q` by a name or e-mail prefix (case-insensitive)."
    ),
)
def list_directory(call: ApiCall) -> dict[str, Any]:
    query = call.query(DirectoryQuery)
    page = users.list_directory(
        call.principal.organization_id,
        role=None if query.role is None else Role(query.role),
        q=query.q,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page.dump(DirectoryUserOut)


@api_route(
    directory_bp,
    "/users/{user_id}",
    methods=["GET"],
    operation_id="getDirectoryUser",
    response=DirectoryUserOut,
    summary="One person of the caller's organization (404 for anyone else).",
)
def get_directory_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    return DirectoryUserOut.dump(users.get_user(call.principal.organization_id, user_id))
