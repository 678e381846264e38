"""Audit trail routes (ADMIN): list with filters and cursor, and verify the hash chain (in the
table and against the signed checkpoints in the archive)."""

from __future__ import annotations

from typing import Any, Literal

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chalicelib.api.routing import ApiCall, api_route, validation_details
from chalicelib.audit import log as audit_log
from chalicelib.core.errors import ValidationFailed

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


class AuditRecordOut(BaseModel):
    """`audit_log.record_json`: one record (`before`/`after` are short summaries). A `pending`
    record is listed at once but has no `seq`, `prevHash` or `hash` until it is chained."""

    model_config = ConfigDict(extra="forbid")
    id: str
    pending: bool
    seq: int | None
    at: str
    actorId: str  # noqa: N815 (the contract's field names)
    action: str
    targetType: str  # noqa: N815
    targetId: str  # noqa: N815
    requestId: str | None  # noqa: N815
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prevHash: str | None  # noqa: N815
    hash: str | None


class BrokenLinkOut(BaseModel):
    """The first broken seq, why, and the checkpoint that shows it (archive checks)."""

    model_config = ConfigDict(extra="forbid")
    seq: int
    reason: Literal[
        "missing_record",
        "sequence_mismatch",
        "prev_hash_mismatch",
        "hash_mismatch",
        "head_mismatch",
        "archive_mismatch",
        "archive_records_missing",
        "archive_records_mismatch",
        "checkpoint_missing",
        "checkpoint_signature_invalid",
        "checkpoint_chain_broken",
        "checkpoint_malformed",
    ]
    detail: str
    checkpoint: int | None


class VerifyOut(BaseModel):
    """`audit_log.VerifyReport.to_json()`: the first broken link, if any."""

    model_config = ConfigDict(extra="forbid")
    organizationId: str  # noqa: N815
    ok: bool
    checked: int
    headSeq: int  # noqa: N815
    pending: int
    checkpoints: int
    checkpointSeq: int  # noqa: N815
    firstBroken: BrokenLinkOut | None  # noqa: N815


@api_route(
    audit_bp,
    "/admin/audit",
    methods=["GET"],
    query=AuditQuery,
    response=AuditRecordOut,
    paginated=True,
    summary="The organization's audit records, newest first, filtered (ISO 8601 since/until).",
)
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


@api_route(
    audit_bp,
    "/admin/audit/verify",
    methods=["GET"],
    response=VerifyOut,
    summary="Check the hash chain in the table and against the signed archived checkpoints; "
    "report the first broken seq.",
)
def verify_audit(call: ApiCall) -> dict[str, Any]:
    return audit_log.verify_chain(call.principal.organization_id).to_json()
