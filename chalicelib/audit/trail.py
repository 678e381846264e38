"""The tamper-evident audit trail: an append-only, hash-chained log per organization.

Each record holds `seq`, actor, action, target, time, before/after summaries and
`hash = SHA-256(prev_hash || canonical JSON of the record)`. The organization's head item
(`ORG#<org>` / `HEAD`) holds the last seq and hash. A change and its audit record are written in
one DynamoDB transaction, so a change never exists without its record:

    audit.transact(AuditEntry(...), lambda tx: tx.save(ticket, condition=...))

The record is put with `attribute_not_exists` (no overwrite) and the head is updated only if its
seq is still the one read, so two writers can never fork the chain; the loser retries.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit.models import AuditHeadModel, AuditRecordModel
from chalicelib.core.dynamo import connection
from chalicelib.core.errors import Conflict
from chalicelib.core.observability import current_context
from chalicelib.core.org_keys import org_pk

GENESIS_HASH = "0" * 64
HEAD_SK = "HEAD"
SEQ_PREFIX = "SEQ#"
MAX_ATTEMPTS = 5


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


def seq_sk(seq: int) -> str:
    return f"{SEQ_PREFIX}{seq:012d}"


def canonical_json(value: Any) -> str:
    """Deterministic JSON (sorted keys, no spaces): what the hash covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_body(record: AuditRecordModel) -> dict[str, Any]:
    """The hashed fields of a record."""
    return {
        "organizationId": record.organization_id,
        "seq": int(record.seq),
        "at": record.at,
        "actorId": record.actor_id,
        "action": record.action,
        "targetType": record.target_type,
        "targetId": record.target_id,
        "requestId": record.request_id,
        "details": record.details,
    }


def compute_hash(prev_hash: str, body: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def _read_head(organization_id: str) -> tuple[int, str]:
    try:
        head = AuditHeadModel.get(org_pk(organization_id), HEAD_SK, consistent_read=True)
    except DoesNotExist:
        return 0, GENESIS_HASH
    return int(head.seq), head.hash


def head_state(head: AuditHeadModel | None) -> tuple[int, str]:
    """`(seq, hash)` of a head item read by the caller (None: the chain is empty).

    Lets a caller fetch the head in the same TransactGet/BatchGet as the items it is about to
    change and hand it to `transact(..., head=...)`, saving a round trip.
    """
    if head is None:
        return 0, GENESIS_HASH
    return int(head.seq), head.hash


def _build_record(entry: AuditEntry, seq: int, prev_hash: str) -> AuditRecordModel:
    record = AuditRecordModel(
        org_pk(entry.organization_id),
        seq_sk(seq),
        organization_id=entry.organization_id,
        seq=seq,
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        actor_id=entry.actor_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        request_id=current_context().request_id,
        details=canonical_json({"before": entry.before, "after": entry.after}),
        prev_hash=prev_hash,
        hash="",
    )
    record.hash = compute_hash(prev_hash, record_body(record))
    return record


def _add_chain_items(tx: TransactWrite, record: AuditRecordModel, prev_seq: int) -> None:
    tx.save(record, condition=AuditRecordModel.pk.does_not_exist())
    head = AuditHeadModel(record.pk, HEAD_SK, seq=record.seq, hash=record.hash)
    if prev_seq == 0:
        tx.save(head, condition=AuditHeadModel.pk.does_not_exist())
    else:
        tx.save(head, condition=AuditHeadModel.seq == prev_seq)


def transact(
    entry: AuditEntry,
    build: Callable[[TransactWrite], None] | None = None,
    *,
    head: tuple[int, str] | None = None,
) -> AuditRecordModel:
    """Write `build`'s domain change and the audit record atomically; returns the record.

    `build(tx)` adds the change's operations (it may be called again on a retry, so it must be
    pure). If the change's own condition fails, its `TransactWriteError` is re-raised for the
    caller to map (409, 404...). Contention on the chain head is retried.
    `head`: the `(seq, hash)` the caller already read (see `head_state`); used for the first
    attempt only, retries read the head again. The head's seq condition keeps a stale value safe.
    """
    for attempt in range(MAX_ATTEMPTS):
        if attempt == 0 and head is not None:
            prev_seq, prev_hash = head
        else:
            prev_seq, prev_hash = _read_head(entry.organization_id)
        record = _build_record(entry, prev_seq + 1, prev_hash)
        try:
            with TransactWrite(connection=connection()) as tx:
                if build is not None:
                    build(tx)
                _add_chain_items(tx, record, prev_seq)
        except TransactWriteError:
            if _read_head(entry.organization_id)[0] != prev_seq:
                continue  # another writer appended first: rebuild on the new head
            raise
        return record
    raise Conflict("The audit trail is busy; retry the request.")
