"""`/api/admin/security/flags`: what containment cut off, and clearing it. ADMIN only."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.list_query import ListQuery
from chalicelib.identity import flags
from chalicelib.identity.schemas import FlagOut

admin_security_bp = Blueprint(__name__)


@api_route(
    admin_security_bp,
    "/admin/security/flags",
    methods=["GET"],
    query=ListQuery,
    response=FlagOut,
    paginated=True,
    summary="Credentials and accounts that containment revoked, for review (audited).",
    operation_id="listSecurityFlags",
)
def list_flags(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    query = call.query(ListQuery)
    page = flags.list_flags(
        principal.organization_id,
        actor_id=principal.user_id,
        limit=query.limit,
        cursor=query.cursor,
    )
    return page.dump(FlagOut)


@api_route(
    admin_security_bp,
    "/admin/security/flags/{flag_id}/clear",
    methods=["POST"],
    body=NoBody,
    response=FlagOut,
    errors=(409,),
    summary=(
        "Mark a flag reviewed (audited). What was revoked stays revoked; 409 if already cleared."
    ),
    operation_id="clearSecurityFlag",
)
def clear_flag(call: ApiCall, flag_id: str) -> dict[str, Any]:
    principal = call.principal
    return FlagOut.dump(
        flags.clear_flag(principal.organization_id, flag_id, actor_id=principal.user_id)
    )
