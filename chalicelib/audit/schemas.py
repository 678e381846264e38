"""Response schemas of the audit routes: `XOut.dump(...)` is the body (see
`chalicelib.core.schemas`), the OpenAPI document and the fuzzer's oracle."""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from pydantic import Field

from chalicelib.core.list_query import ListQuery
from chalicelib.core.schemas import Out, UtcTimestamp


class AuditRecordOut(Out):
    """One record (`before`/`after` are short summaries). A `pending` record is listed at once
    but has no `seq`, `prevHash` or `hash` until the chainer has chained it."""

    id: str
    pending: bool
    seq: int | None
    at: UtcTimestamp
    actor_id: str
    action: str
    target_type: str
    target_id: str
    request_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str | None
    hash: str | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored record (`audit.models.AuditRecordModel`): `before`/`after` are kept in
        its JSON `details`."""
        details = json.loads(source.details)
        return super().of(
            {
                "id": source.record_id,
                "pending": source.seq is None,
                "seq": int(source.seq) if source.seq is not None else None,
                "at": source.at,
                "actor_id": source.actor_id,
                "action": source.action,
                "target_type": source.target_type,
                "target_id": source.target_id,
                "request_id": source.request_id,
                "before": details.get("before"),
                "after": details.get("after"),
                "prev_hash": source.prev_hash,
                "hash": source.hash,
            }
        )


class BrokenLinkOut(Out):
    """The first broken seq, why, and the checkpoint that shows it (archive checks)."""

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


class VerifyOut(Out):
    """The chain check (`audit.log.VerifyReport`): the first broken link, if any."""

    organization_id: str
    ok: bool
    checked: int
    head_seq: int
    pending: int
    checkpoints: int
    checkpoint_seq: int
    first_broken: BrokenLinkOut | None


class AuditQuery(ListQuery):
    """Query string of `GET /api/admin/audit` (all values arrive as strings)."""

    actor: str | None = Field(default=None, max_length=128)
    targetType: str | None = Field(default=None, max_length=64)  # noqa: N815 (query name)
    targetId: str | None = Field(default=None, max_length=128)  # noqa: N815
    since: str | None = Field(default=None, max_length=40)
    until: str | None = Field(default=None, max_length=40)
