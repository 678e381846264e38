"""The audit trail's write path: every change and its record are one DynamoDB transaction.

    audit.transact(AuditEntry(...), lambda tx: tx.save(ticket, condition=...))

The record is put under a fresh time-ordered id (`REC#<id>`, `attribute_not_exists`), so the
transaction touches no item shared by the organization's other writers: concurrent audited
writes in one organization never contend on the trail. The record is *pending*; the chainer
(`chalicelib.audit.chainer`, fed by the table's stream) gives it its `seq` and hash later.

What can still collide is the change itself: DynamoDB cancels a transaction that races another
one on the same item (`TransactionConflict`), and a transient fault (throttling, internal error)
can cancel it too. Those are retried with jittered exponential backoff; if they persist the
request fails with `ServiceUnavailable` (503 + Retry-After). A failed *condition* of the change
(a stale version, a missing item) is the caller's to map (409, 404...) and is never retried.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit.checkpoints import GENESIS_HASH, canonical_json, compute_hash
from chalicelib.audit.models import CHAIN_SK, RECORD_PREFIX, AuditChainModel, AuditRecordModel
from chalicelib.core.dynamo import connection
from chalicelib.core.errors import ServiceUnavailable
from chalicelib.core.observability import current_context
from chalicelib.core.org_keys import org_pk

__all__ = [
    "CHAIN_SK",
    "GENESIS_HASH",
    "RECORD_PREFIX",
    "AuditChainModel",
    "AuditEntry",
    "AuditRecordModel",
    "canonical_json",
    "compute_hash",
    "new_record_id",
    "org_pk",
    "record_body",
    "record_sk",
    "transact",
]

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 0.02
BACKOFF_CAP_SECONDS = 0.5
RETRY_AFTER_SECONDS = 1
# Cancellation reasons worth another attempt: a race with another transaction on the same item,
# or a transient fault. `ConditionalCheckFailed` is the change's own answer and never retried.
RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "InternalError"}
)
RETRYABLE_ERRORS = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """What happened; `before`/`after` are short summaries (no bodies, secrets or PII)."""

    organization_id: str
    actor_id: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None


_id_lock = threading.Lock()
_last_id: list[int] = [0, 0]  # the last (ms, random part) this process issued


def new_record_id() -> str:
    """32 hex digits, the first 12 the time in ms, the rest random: record ids sort by when they
    were written. Within one process they are strictly increasing (like a monotonic ULID: in the
    same millisecond the random part is incremented), so one request's records keep their order.
    """
    with _id_lock:
        now_ms = max(time.time_ns() // 1_000_000, _last_id[0])
        random_part = secrets.randbits(79)
        if now_ms == _last_id[0]:
            random_part = _last_id[1] + 1
        _last_id[0], _last_id[1] = now_ms, random_part
    return f"{now_ms:012x}{random_part:020x}"


def record_sk(record_id: str) -> str:
    return f"{RECORD_PREFIX}{record_id}"


def record_body(record: AuditRecordModel) -> dict[str, Any]:
    """The hashed fields of a chained record (the same dict the archive stores per line)."""
    return {
        "organizationId": record.organization_id,
        "id": record.record_id,
        "seq": int(record.seq) if record.seq is not None else None,
        "at": record.at,
        "actorId": record.actor_id,
        "action": record.action,
        "targetType": record.target_type,
        "targetId": record.target_id,
        "requestId": record.request_id,
        "details": record.details,
    }


def build_record(entry: AuditEntry) -> AuditRecordModel:
    """A pending record for `entry` under a fresh id."""
    record_id = new_record_id()
    return AuditRecordModel(
        org_pk(entry.organization_id),
        record_sk(record_id),
        organization_id=entry.organization_id,
        record_id=record_id,
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        actor_id=entry.actor_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        request_id=current_context().request_id,
        details=canonical_json({"before": entry.before, "after": entry.after}),
    )


def is_retryable(error: TransactWriteError) -> bool:
    """A cancellation caused only by races or transient faults (no failed condition)."""
    reasons = [r.code for r in (error.cancellation_reasons or []) if r is not None and r.code]
    if reasons:
        return "ConditionalCheckFailed" not in reasons and any(
            code in RETRYABLE_REASONS for code in reasons
        )
    return error.cause_response_code in RETRYABLE_ERRORS


def backoff_seconds(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2^attempt)]."""
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))  # noqa: S311


def transact(
    entry: AuditEntry, build: Callable[[TransactWrite], None] | None = None
) -> AuditRecordModel:
    """Write `build`'s change and the (pending) audit record atomically; returns the record.

    `build(tx)` adds the change's operations; it is called again on a retry, so it must only add
    operations. If a condition of the change fails, its `TransactWriteError` is re-raised for the
    caller to map. Races and transient faults are retried with jittered backoff, then answered
    with `ServiceUnavailable`.
    """
    for attempt in range(MAX_ATTEMPTS):
        record = build_record(entry)
        try:
            with TransactWrite(connection=connection()) as tx:
                if build is not None:
                    build(tx)
                tx.save(record, condition=AuditRecordModel.pk.does_not_exist())
        except TransactWriteError as error:
            if not is_retryable(error):
                raise
            if attempt + 1 < MAX_ATTEMPTS:
                time.sleep(backoff_seconds(attempt))
            continue
        return record
    raise ServiceUnavailable(
        "The change could not be written right now; retry the request.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
