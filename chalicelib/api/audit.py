"""Audit trail routes (ADMIN): list with filters and cursor, and verify the hash chain (in the
table and against the signed checkpoints in the archive)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.audit import log as audit_log
    from chalicelib.audit import schemas as models
else:
    audit_log = lazy_module("chalicelib.audit.log")
    models = deferred_names("chalicelib.audit.schemas")

audit_bp = Blueprint(__name__)


@api_route(
    audit_bp,
    "/admin/audit",
    methods=["GET"],
    query=models.AuditQuery,
    response=models.AuditRecordOut,
    paginated=True,
    summary="The organization's audit records, newest first, filtered (ISO 8601 since/until).",
    operation_id="listAuditRecords",
)
def list_audit(call: ApiCall) -> dict[str, Any]:
    query = call.query(models.AuditQuery)
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
    return page.dump(models.AuditRecordOut)


@api_route(
    audit_bp,
    "/admin/audit/verify",
    methods=["GET"],
    response=models.VerifyOut,
    summary="Check the hash chain in the table and against the signed archived checkpoints; "
    "report the first broken seq.",
    operation_id="verifyAuditChain",
)
def verify_audit(call: ApiCall) -> dict[str, Any]:
    return models.VerifyOut.dump(audit_log.verify_chain(call.principal.organization_id))
