"""Audit trail routes (ADMIN): list with filters and cursor, and verify the hash chain."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.api.routing import ApiCall, api_route, validation_details
from chalicelib.core.errors import ValidationFailed
from chalicelib.security_events import audit_log

audit_bp = Blueprint(__name__)


class AuditQuery(BaseModel):
    """Query string of `GET /api/admin/audit` (all values arrive as strings)."""

    model_config = ConfigDict(extra="forbid")
    actor: str | None = Field(default=None, max_length=128)
    targetType: str | None = Field(default=None, max_length=64)  # noqa: N815 (query name)
    targetId: str | None = Field(default=None, max_length=128)  # noqa: N815
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
    limit: int = Field(default=25, ge=1, le=audit_log.MAX_LIMIT)
    cursor: str | None = Field(default=None, max_length=2048)


@api_route(audit_bp, "/admin/audit", methods=["GET"])
def list_audit(call: ApiCall) -> dict[str, Any]:
    try:
        query = AuditQuery.model_validate(dict(call.query))
    except ValidationError as error:
        raise ValidationFailed(details=validation_details(error)) from None
    filters = audit_log.AuditFilters(
        actor_id=query.actor,
        target_type=query.targetType,
        target_id=query.targetId,
        since=query.since,
        until=query.until,
    )
    items, next_cursor = audit_log.list_records(
        call.principal.organization_id, filters, limit=query.limit, cursor=query.cursor
    )
    return {"items": items, "nextCursor": next_cursor}


@api_route(audit_bp, "/admin/audit/verify", methods=["GET"])
def verify_audit(call: ApiCall) -> dict[str, Any]:
    return audit_log.verify_chain(call.principal.organization_id).to_json()
