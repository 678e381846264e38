"""`/api/admin/users`: list, create (invite), change role or name, deactivate. ADMIN only."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from chalice.app import Blueprint
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.authz.principal import Role
from chalicelib.core.list_query import ListQuery
from chalicelib.core.text import check_one_line
from chalicelib.identity import password_flows, users
from chalicelib.identity.schemas import AdminUserOut, CreatedUserOut

admin_users_bp = Blueprint(__name__)

RoleName = Literal["REQUESTER", "AGENT", "ADMIN"]
# A person's name as others read it: no control characters, line breaks or bidi controls.
OneLineName = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(check_one_line)]


class CreateUserBody(BaseModel):
    """No `id`, `organizationId`, `password`, `passwordHash` or `active`: those are never
    client-set. The new user chooses their password through the invitation mail's link."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: OneLineName
    role: RoleName


class UpdateUserBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    name: OneLineName | None = None
    role: RoleName | None = None
    active: bool | None = None


@api_route(
    admin_users_bp,
    "/admin/users",
    methods=["GET"],
    query=ListQuery,
    response=AdminUserOut,
    paginated=True,
    summary="The organization's users, a page at a time.",
    operation_id="listUsers",
)
def list_users(call: ApiCall) -> dict[str, Any]:
    query = call.query(ListQuery)
    page = users.list_users(call.principal.organization_id, limit=query.limit, cursor=query.cursor)
    return page.dump(AdminUserOut)


@api_route(
    admin_users_bp,
    "/admin/users",
    methods=["POST"],
    status=201,
    body=CreateUserBody,
    response=CreatedUserOut,
    summary=(
        "Invite a user to the caller's organization: the account is created without a password "
        "and an invitation mail carries a one-time setup link; 409 if the e-mail is taken."
    ),
    operation_id="createUser",
)
def create_user(call: ApiCall) -> dict[str, Any]:
    body = call.body(CreateUserBody)
    user = users.create_user(
        call.principal.organization_id,
        email=body.email,
        name=body.name,
        role=Role(body.role),
        actor_id=call.principal.user_id,
    )
    sent = password_flows.invite(user)
    return CreatedUserOut.dump({**dataclasses.asdict(user), "invitation_sent": sent})


@api_route(
    admin_users_bp,
    "/admin/users/{user_id}",
    methods=["GET"],
    response=AdminUserOut,
    summary="One user of the caller's organization.",
    operation_id="getUser",
)
def get_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    return AdminUserOut.dump(users.get_user(call.principal.organization_id, user_id))


@api_route(
    admin_users_bp,
    "/admin/users/{user_id}",
    methods=["PATCH"],
    body=UpdateUserBody,
    response=AdminUserOut,
    summary=(
        "Change a user's name, role or active flag (deactivation revokes their credentials); "
        "the last active admin cannot be demoted or deactivated (409)."
    ),
    operation_id="updateUser",
)
def update_user(call: ApiCall, user_id: str) -> dict[str, Any]:
    body = call.body(UpdateUserBody)
    user = users.update_user(
        call.principal.organization_id,
        user_id,
        actor_id=call.principal.user_id,
        role=None if body.role is None else Role(body.role),
        active=body.active,
        name=body.name,
    )
    return AdminUserOut.dump(user)
