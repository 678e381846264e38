"""Audit trail routes (ADMIN): list with filters and cursor, and verify the hash chain (in the
table and against the signed checkpoints in the archive)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint
from pydantic import Field

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.audit import log as audit_log
from chalicelib.audit.schemas import AuditRecordOut, VerifyOut
from chalicelib.core.list_query import ListQuery

audit_bp = Blueprint(__name__)


class AuditQuery(ListQuery):
    """Query string of `GET /api/admin/audit` (all values arrive as strings)."""

    actor: str | None = Field(default=None, max_length=128)
    targetType: str | None = Field(default=None, max_length=64)  # noqa: N815 (query name)
    targetId: str | None = Field(default=None, max_length=128)  # noqa: N815
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)


@api_route(
    audit_bp,
    "/admin/audit",
    methods=["GET"],
    query=AuditQuery,
    response=AuditRecordOut,
    paginated=True,
    summary="The organization's audit records, newest first, filtered (ISO 8601 since/until).",
    operation_id="listAuditRecords",
)
def list_audit(call: ApiCall) -> dict[str, Any]:
    query = call.query(AuditQuery)
    filters = audit_log.AuditFilters(
        actor_id=query.actor,
        target_type=query.targetType,
        target_id=query.targetId,
        since=query.since,
        until=query.until,
    )
    page = audit_log.list_records(
        call.principal.organization_id, filters, limit=query.limit, cursor=query.cursor
    )
    return page.dump(AuditRecordOut)


@api_route(
    audit_bp,
    "/admin/audit/verify",
    methods=["GET"],
    response=VerifyOut,
    summary="Check the hash chain in the table and against the signed archived checkpoints; "
    "report the first broken seq.",
    operation_id="verifyAuditChain",
)
def verify_audit(call: ApiCall) -> dict[str, Any]:
    return VerifyOut.dump(audit_log.verify_chain(call.principal.organization_id))
