"""`/api/admin/security/flags`: what containment cut off, and clearing it. ADMIN only."""

from __future__ import annotations

from typing import Any, Literal

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.cursors import parse_limit
from chalicelib.identity import flags

admin_security_bp = Blueprint(__name__)


class FlagOut(BaseModel):
    """`flags.public()`: one contained credential (`session`, `api_token`) or account (`user`)."""

    model_config = ConfigDict(extra="forbid")
    id: str
    userId: str  # noqa: N815 (the contract's field names)
    subjectType: Literal["session", "api_token", "user"]  # noqa: N815
    subjectId: str  # noqa: N815
    kind: str
    signals: int
    createdAt: str  # noqa: N815
    status: Literal["open", "cleared"]
    clearedAt: str | None  # noqa: N815
    clearedBy: str | None  # noqa: N815


@api_route(
    admin_security_bp,
    "/admin/security/flags",
    methods=["GET"],
    response=FlagOut,
    paginated=True,
    summary="Credentials and accounts that containment revoked, for review (audited).",
)
def list_flags(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    page = flags.list_flags(
        principal.organization_id,
        actor_id=principal.user_id,
        limit=parse_limit(call.query.get("limit")),
        cursor=call.query.get("cursor"),
    )
    return page.body()


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
)
def clear_flag(call: ApiCall, flag_id: str) -> dict[str, Any]:
    principal = call.principal
    return flags.clear_flag(principal.organization_id, flag_id, actor_id=principal.user_id)
