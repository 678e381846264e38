"""Response schemas of the audit routes: `XOut.dump(...)` is the body (see
`chalicelib.core.schemas`), the OpenAPI document and the fuzzer's oracle."""

from __future__ import annotations

import json
from typing import Any, Literal, Self

from chalicelib.core.schemas import Out


class AuditRecordOut(Out):
    """One hash-chained record (`before`/`after` are short summaries)."""

    seq: int
    at: str
    actor_id: str
    action: str
    target_type: str
    target_id: str
    request_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored record (`audit.models.AuditRecordModel`): `before`/`after` are kept in
        its JSON `details`."""
        details = json.loads(source.details)
        return super().of(
            {
                "seq": int(source.seq),
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
    seq: int
    reason: Literal[
        "missing_record",
        "sequence_mismatch",
        "prev_hash_mismatch",
        "hash_mismatch",
        "head_mismatch",
    ]
    detail: str


class VerifyOut(Out):
    """The chain check (`audit.log.VerifyReport`): the first broken link, if any."""

    organization_id: str
    ok: bool
    checked: int
    head_seq: int
    first_broken: BrokenLinkOut | None
