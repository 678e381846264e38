"""`/api/admin/groups`: agent groups (create, list, read, rename, archive, set members). ADMIN.

Another organization's group is a 404 like a missing one (the service reads only the caller's
organization's partition). Changes accept an optional `If-Match` with the version read (the
`ETag`): when sent, a stale version is a 409.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.tickets import groups
    from chalicelib.tickets import schemas as models
else:
    groups = lazy_module("chalicelib.tickets.groups")
    models = deferred_names("chalicelib.tickets.schemas")

admin_groups_bp = Blueprint(__name__)

_IF_MATCH = re.compile(r'^(?:W/)?"?([0-9]{1,12})"?$')


def _with_etag(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", "ETag": f'"{body["version"]}"'},
    )


def _optional_if_match(call: ApiCall) -> int | None:
    raw = call.header("If-Match")
    if raw is None or not raw.strip():
        return None
    match = _IF_MATCH.fullmatch(raw.strip())
    if match is None:
        raise ValidationFailed(
            details=[{"field": "If-Match", "message": "must be the group's version (its ETag)"}]
        )
    return int(match.group(1))


@api_route(
    admin_groups_bp,
    "/admin/groups",
    methods=["POST"],
    operation_id="createGroup",
    status=201,
    body=models.CreateGroup,
    response=models.GroupOut,
    errors=(409,),
    summary="Create an agent group (audited); 409 if the name is taken or the limit reached.",
    response_headers=("ETag",),
)
def create_group(call: ApiCall) -> Response:
    body = call.body(models.CreateGroup)
    item = groups.create_group(call.principal, name=body.name, description=body.description)
    return _with_etag(models.GroupOut.dump(item), status=201)


@api_route(
    admin_groups_bp,
    "/admin/groups",
    methods=["GET"],
    operation_id="listGroups",
    query=models.ListGroupsQuery,
    response=models.GroupOut,
    paginated=True,
    summary="The organization's agent groups, oldest first; `archived=true|false` filters.",
)
def list_groups(call: ApiCall) -> dict[str, Any]:
    query = call.query(models.ListGroupsQuery)
    archived = None if query.archived is None else query.archived == "true"
    page = groups.list_groups(
        call.principal.organization_id, archived=archived, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.GroupOut)


@api_route(
    admin_groups_bp,
    "/admin/groups/{group_id}",
    methods=["GET"],
    operation_id="getGroup",
    response=models.GroupOut,
    summary="One agent group with its members.",
    response_headers=("ETag",),
)
def get_group(call: ApiCall, group_id: str) -> Response:
    return _with_etag(
        models.GroupOut.dump(groups.get_group(call.principal.organization_id, group_id))
    )


@api_route(
    admin_groups_bp,
    "/admin/groups/{group_id}",
    methods=["PATCH"],
    operation_id="updateGroup",
    body=models.UpdateGroup,
    response=models.GroupOut,
    errors=(409,),
    summary=(
        "Rename, re-describe, archive or unarchive a group (audited). Optional `If-Match`: a "
        "stale version is a 409."
    ),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def update_group(call: ApiCall, group_id: str) -> Response:
    body = call.body(models.UpdateGroup)
    fields = body.model_fields_set
    changes = {name: getattr(body, name) for name in fields if getattr(body, name) is not None}
    if not changes:
        raise ValidationFailed("Nothing to change: send name, description or archived.")
    item = groups.update_group(call.principal, group_id, changes, if_match=_optional_if_match(call))
    return _with_etag(models.GroupOut.dump(item))


@api_route(
    admin_groups_bp,
    "/admin/groups/{group_id}/members",
    methods=["PUT"],
    operation_id="setGroupMembers",
    body=models.SetGroupMembers,
    response=models.GroupOut,
    errors=(409,),
    summary=(
        "Replace a group's members (audited): each must be an active agent or admin of the "
        "organization, else 400 naming the positions. Optional `If-Match`."
    ),
    request_headers=("If-Match",),
    response_headers=("ETag",),
)
def set_group_members(call: ApiCall, group_id: str) -> Response:
    body = call.body(models.SetGroupMembers)
    item = groups.set_members(
        call.principal, group_id, body.userIds, if_match=_optional_if_match(call)
    )
    return _with_etag(models.GroupOut.dump(item))
