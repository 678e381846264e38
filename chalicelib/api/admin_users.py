"""`/api/admin/users`: list, create (invite), change role or name, deactivate. ADMIN only."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.authz.principal import Role
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.identity import password_flows, users
    from chalicelib.identity import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    password_flows = lazy_module("chalicelib.identity.password_flows")
    users = lazy_module("chalicelib.identity.users")
    models = deferred_names("chalicelib.identity.schemas")

admin_users_bp = Blueprint(__name__)


@api_route(
    admin_users_bp,
    "/admin/users",
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.AdminUserOut,
    paginated=True,
    summary="The organization's users, a page at a time.",
    operation_id="listUsers",
)
def list_users(call: ApiCall) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = users.list_users(call.principal.organization_id, limit=query.limit, cursor=query.cursor)
    return page.dump(models.AdminUserOut)


@api_route(
    admin_users_bp,
    "/admin/users",
    methods=["POST"],
    status=201,
    body=models.CreateUserBody,
    response=models.CreatedUserOut,
    summary=(
        "Invite a user to the caller's organization: the account is created without a password "
        "and an invitation mail carries a one-time setup link; 409 if the e-mail is taken."
    ),
    operation_id="createUser",
)
def create_user(call: ApiCall) -> dict[str, Any]:
    body = call.body(models.CreateUserBody)
    user = users.create_user(
        call.principal.organization_id,
        email=body.email,
        name=body.name,
        role=Role(body.role),
        actor_id=call.principal.user_id,
    )
    sent = password_flows.invite(user)
    return models.CreatedUserOut.dump({**dataclasses.asdict(user), "invitation_sent": sent})


@api_route(
    admin_users_bp,
    "/admin/users/{user_id}",
    methods=["GET"],
    response=models.AdminUserOut,
    summary="One user of the caller's organization.",
    operation_id="getUser",
)
def get_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    return models.AdminUserOut.dump(users.get_user(call.principal.organization_id, user_id))


@api_route(
    admin_users_bp,
    "/admin/users/{user_id}",
    methods=["PATCH"],
    body=models.UpdateUserBody,
    response=models.AdminUserOut,
    summary=(
        "Change a user's name, role or active flag (deactivation revokes their credentials); "
        "the last active admin cannot be demoted or deactivated (409)."
    ),
    operation_id="updateUser",
)
def update_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    body = call.body(models.UpdateUserBody)
    user = users.update_user(
        call.principal.organization_id,
        user_id,
        actor_id=call.principal.user_id,
        role=None if body.role is None else Role(body.role),
        active=body.active,
        name=body.name,
    )
    return models.AdminUserOut.dump(user)
