"""`/api/admin/security/flags`: what containment cut off, and clearing it. ADMIN only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.identity import flags
    from chalicelib.identity import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    flags = lazy_module("chalicelib.identity.flags")
    models = deferred_names("chalicelib.identity.schemas")

admin_security_bp = Blueprint(__name__)


@api_route(
    admin_security_bp,
    "/admin/security/flags",
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.FlagOut,
    paginated=True,
    summary="Credentials and accounts that containment revoked, for review (audited).",
    operation_id="listSecurityFlags",
)
def list_flags(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    query = call.query(list_query.ListQuery)
    page = flags.list_flags(
        principal.organization_id,
        actor_id=principal.user_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page.dump(models.FlagOut)


@api_route(
    admin_security_bp,
    "/admin/security/flags/{flag_id}/clear",
    methods=["POST"],
    body=NoBody,
    response=models.FlagOut,
    errors=(409,),
    summary=(
        "Mark a flag reviewed (audited). What was revoked stays revoked; 409 if already cleared."
    ),
    operation_id="clearSecurityFlag",
)
def clear_flag(call: ApiCall, flag_id: str) -> dict[str, Any]:
    principal = call.principal
    return models.FlagOut.dump(
        flags.clear_flag(principal.organization_id, flag_id, actor_id=principal.user_id)
    )
