"""The chainer: turns pending audit records into the hash chain, and anchors it in checkpoints.

It runs as its own Lambda function on the audit table's stream (INSERTs of `REC#` items, see
`STREAM_FILTER`), batched. Per organization it orders the batch's records by their time-ordered
id, gives them the next `seq` numbers, computes `hash = SHA-256(prev_hash || record)` and writes
up to `MAX_RECORDS_PER_TRANSACTION` of them in one transaction together with the chain tip,
conditional on the tip's seq: if another chainer moved the tip first, nothing is written and the
batch is re-chained on the new tip. A record already chained (a redelivered stream record) fails
its own condition and is dropped. Writers never wait for any of this.

After chaining, and from a scheduled sweep for quiet organizations, `maybe_checkpoint` writes a
signed checkpoint once `audit_checkpoint_every_records` records or
`audit_checkpoint_every_seconds` seconds have passed since the last one (see
`chalicelib.audit.checkpoints` for the format). The checkpoint is claimed on the tip first
(conditionally, so two chainers cannot fork the checkpoint chain), then written to the archive,
then marked archived; a claim left unarchived is completed on the next run.

Why one module of this size: ordering, chaining, the conditional transaction on the tip and the
checkpoint claim are one protocol; split apart, the invariants between them would be implicit.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import archive
from chalicelib.audit.checkpoints import (
    GENESIS_HASH,
    checkpoint_hash,
    checkpoint_key,
    compute_hash,
    records_file,
    records_key,
    sha256_hex,
)
from chalicelib.audit.models import (
    ANCHOR_DUE,
    CHAIN_SK,
    RECORD_PREFIX,
    AuditChainModel,
    AuditRecordModel,
)
from chalicelib.audit.trail import backoff_seconds, is_retryable, record_body, record_sk
from chalicelib.core.dynamo import connection, is_condition_failure
from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings

# DynamoDB's 100 items per transaction: the tip and 99 records.
MAX_RECORDS_PER_TRANSACTION = 99
MAX_ATTEMPTS = 8
# What the event source mapping delivers (Lambda event filtering): new audit records only.
STREAM_FILTER: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": RECORD_PREFIX}]}}},
}


def matches_stream_filter(record: Mapping[str, Any]) -> bool:
    """The same test as `STREAM_FILTER` (the local stack's pump and the handler apply it)."""
    if record.get("eventName") != "INSERT":
        return False
    sk = record.get("dynamodb", {}).get("Keys", {}).get("sk", {}).get("S", "")
    return isinstance(sk, str) and sk.startswith(RECORD_PREFIX)


@dataclasses.dataclass
class ChainOutcome:
    chained: int = 0
    organizations: int = 0
    checkpoints: int = 0
    lag_ms: list[float] = dataclasses.field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def read_tip(organization_id: str) -> AuditChainModel | None:
    try:
        return AuditChainModel.get(org_pk(organization_id), CHAIN_SK, consistent_read=True)
    except DoesNotExist:
        return None


def pending_from_stream(records: Iterable[Mapping[str, Any]]) -> dict[str, list[AuditRecordModel]]:
    """The pending records of a stream batch, by organization (other events are skipped)."""
    by_org: dict[str, dict[str, AuditRecordModel]] = {}
    for stream_record in records:
        if not matches_stream_filter(stream_record):
            continue
        image = stream_record.get("dynamodb", {}).get("NewImage")
        if not image:
            continue
        record = AuditRecordModel.from_raw_data(dict(image))
        if record.seq is not None:
            continue
        by_org.setdefault(record.organization_id, {})[record.record_id] = record
    return {org: list(found.values()) for org, found in by_org.items()}


def handle_stream_event(event: Mapping[str, Any]) -> ChainOutcome:
    """The Lambda handler's body: chain every pending record of the batch, then checkpoint."""
    outcome = ChainOutcome()
    for organization_id, records in pending_from_stream(event.get("Records", [])).items():
        outcome.organizations += 1
        outcome.chained += chain_records(organization_id, records, outcome.lag_ms)
        try:
            outcome.checkpoints += maybe_checkpoint(organization_id)
        except Exception:  # a checkpoint failure never holds up the chain; the sweep retries
            logger.exception("audit checkpoint failed", extra={"organization_id": organization_id})
    return outcome


def _already_chained(records: Sequence[AuditRecordModel]) -> set[str]:
    """Ids among `records` that are chained already (or gone): they must not be chained again."""
    done: set[str] = set()
    for record in records:
        try:
            stored = AuditRecordModel.get(record.pk, record.sk, consistent_read=True)
        except DoesNotExist:
            done.add(record.record_id)
            continue
        if stored.seq is not None:
            done.add(record.record_id)
    return done


def _chain_once(
    organization_id: str, tip: AuditChainModel | None, batch: Sequence[AuditRecordModel]
) -> None:
    """One transaction: `batch` appended after `tip`, and the tip moved, or nothing."""
    seq = int(tip.seq) if tip is not None else 0
    prev_hash = tip.hash if tip is not None else GENESIS_HASH
    chained_at = _iso(_now())
    with TransactWrite(connection=connection()) as tx:
        for record in batch:
            seq += 1
            record.seq = seq
            record.prev_hash = prev_hash
            record.hash = compute_hash(prev_hash, record_body(record))
            tx.update(
                record,
                actions=[
                    AuditRecordModel.seq.set(seq),
                    AuditRecordModel.prev_hash.set(prev_hash),
                    AuditRecordModel.hash.set(record.hash),
                    AuditRecordModel.chained_at.set(chained_at),
                ],
                condition=AuditRecordModel.pk.exists() & AuditRecordModel.seq.does_not_exist(),
            )
            prev_hash = record.hash
        low = min(record.record_id for record in batch)
        if tip is None:
            tx.save(
                AuditChainModel(
                    org_pk(organization_id),
                    CHAIN_SK,
                    organization_id=organization_id,
                    seq=seq,
                    hash=prev_hash,
                    checkpoint_seq=0,
                    checkpoint_at=chained_at,
                    checkpoint_archived=True,
                    low_id=low,
                    anchor_due=ANCHOR_DUE,
                ),
                condition=AuditChainModel.pk.does_not_exist(),
            )
        else:
            tx.update(
                tip,
                actions=[
                    AuditChainModel.seq.set(seq),
                    AuditChainModel.hash.set(prev_hash),
                    AuditChainModel.low_id.set(min(low, tip.low_id or low)),
                    AuditChainModel.anchor_due.set(ANCHOR_DUE),
                ],
                condition=AuditChainModel.seq == int(tip.seq),
            )


def chain_records(
    organization_id: str,
    records: Sequence[AuditRecordModel],
    lag_ms: list[float] | None = None,
) -> int:
    """Append `records` (pending, one organization) to its chain in id order; returns how many
    were chained. Raises after `MAX_ATTEMPTS` contended attempts (Lambda retries the batch)."""
    todo = sorted({r.record_id: r for r in records}.values(), key=lambda r: r.record_id)
    chained = 0
    attempt = 0
    while todo:
        batch = todo[:MAX_RECORDS_PER_TRANSACTION]
        tip = read_tip(organization_id)
        try:
            _chain_once(organization_id, tip, batch)
        except TransactWriteError as error:
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                raise
            reasons = [r.code if r else None for r in error.cancellation_reasons or []]
            failed_records = [
                batch[i]
                for i, code in enumerate(reasons[: len(batch)])
                if code == "ConditionalCheckFailed"
            ]
            if failed_records:
                done = _already_chained(failed_records)
                todo = [r for r in todo if r.record_id not in done]
            elif not (is_retryable(error) or "ConditionalCheckFailed" in reasons):
                raise
            time.sleep(backoff_seconds(attempt))
            for record in batch:  # drop the values of the failed attempt
                record.seq = record.prev_hash = record.hash = None
            continue
        attempt = 0
        chained += len(batch)
        if lag_ms is not None:
            now_ms = time.time() * 1000
            lag_ms.extend(now_ms - int(r.record_id[:12], 16) for r in batch)
        todo = todo[len(batch) :]
    return chained


# --- Checkpoints ---------------------------------------------------------------------------


def _chained_since(tip: AuditChainModel, low_id: str | None, after_seq: int) -> list[Any]:
    """Records with `after_seq < seq <= tip.seq`, in seq order (read from `low_id` on)."""
    key_condition = (
        AuditRecordModel.sk.between(record_sk(low_id), RECORD_PREFIX + "\uffff")
        if low_id
        else AuditRecordModel.sk.startswith(RECORD_PREFIX)
    )
    found = [
        record
        for record in AuditRecordModel.query(
            tip.pk,
            key_condition,
            filter_condition=AuditRecordModel.seq > after_seq,
            consistent_read=True,
        )
        if record.seq is not None and int(record.seq) <= int(tip.seq)
    ]
    return sorted(found, key=lambda record: int(record.seq))


def _lines(records: Sequence[AuditRecordModel]) -> list[dict[str, Any]]:
    return [{**record_body(r), "prevHash": r.prev_hash, "hash": r.hash} for r in records]


def _previous_head(tip: AuditChainModel) -> str:
    if not tip.checkpoint_document:
        return GENESIS_HASH
    return str(json.loads(tip.checkpoint_document)["checkpoint"]["headHash"])


def _archive(document: Mapping[str, Any], body: bytes) -> None:
    checkpoint = document["checkpoint"]
    archive.put_locked(str(checkpoint["records"]), body, "application/x-ndjson")
    archive.put_locked(
        checkpoint_key(str(checkpoint["organizationId"]), int(checkpoint["seq"])),
        json.dumps(document, sort_keys=True).encode(),
        "application/json",
    )


def _mark_archived(tip: AuditChainModel, seq: int) -> None:
    tip.update(
        actions=[AuditChainModel.checkpoint_archived.set(True)],
        condition=AuditChainModel.checkpoint_seq == seq,
    )
    try:
        tip.update(
            actions=[AuditChainModel.anchor_due.remove()],
            condition=(AuditChainModel.seq == seq) & (AuditChainModel.checkpoint_seq == seq),
        )
    except UpdateError as error:
        if not is_condition_failure(error):
            raise


def _complete_claimed(tip: AuditChainModel) -> None:
    """Write the objects of a checkpoint that was claimed but not archived."""
    document = json.loads(tip.checkpoint_document or "{}")
    checkpoint = document["checkpoint"]
    records = [
        r
        for r in _chained_since(tip, tip.checkpoint_low_id, int(checkpoint["fromSeq"]) - 1)
        if int(r.seq) <= int(checkpoint["seq"])
    ]
    body = records_file(_lines(records))
    if sha256_hex(body) != checkpoint["recordsSha256"]:
        logger.error(
            "audit records changed since their checkpoint was signed",
            extra={"organization_id": tip.organization_id, "seq": checkpoint["seq"]},
        )
        return
    _archive(document, body)
    _mark_archived(tip, int(checkpoint["seq"]))


def _is_due(tip: AuditChainModel, now: datetime) -> bool:
    settings = get_settings()
    waiting = int(tip.seq) - int(tip.checkpoint_seq or 0)
    if waiting <= 0:
        return False
    if waiting >= settings.audit_checkpoint_every_records:
        return True
    last = datetime.fromisoformat(tip.checkpoint_at) if tip.checkpoint_at else now
    return (now - last).total_seconds() >= settings.audit_checkpoint_every_seconds


def maybe_checkpoint(organization_id: str, *, force: bool = False) -> int:
    """Write a signed checkpoint if one is due (or `force`); returns 1 if one was written."""
    tip = read_tip(organization_id)
    if tip is None:
        return 0
    if not tip.checkpoint_archived:
        _complete_claimed(tip)
        tip = read_tip(organization_id)
        if tip is None or not tip.checkpoint_archived:
            return 0
    now = _now()
    if int(tip.seq) <= int(tip.checkpoint_seq or 0) or not (force or _is_due(tip, now)):
        return 0
    from_seq = int(tip.checkpoint_seq or 0) + 1
    records = _chained_since(tip, tip.low_id, from_seq - 1)
    lines = _lines(records)
    previous_head = _previous_head(tip)
    if [int(r.seq) for r in records] != list(range(from_seq, int(tip.seq) + 1)) or (
        lines[0]["prevHash"] != previous_head or lines[-1]["hash"] != tip.hash
    ):
        # Never sign a chain that does not hold together; verification will locate why.
        logger.error(
            "audit chain does not link up to its tip; checkpoint refused",
            extra={"organization_id": organization_id, "seq": int(tip.seq)},
        )
        return 0
    body = records_file(lines)
    checkpoint = {
        "organizationId": organization_id,
        "seq": int(tip.seq),
        "headHash": tip.hash,
        "time": _iso(now),
        "previousCheckpointHash": (
            json.loads(tip.checkpoint_document)["hash"] if tip.checkpoint_document else GENESIS_HASH
        ),
        "fromSeq": from_seq,
        "records": records_key(organization_id, from_seq, int(tip.seq)),
        "recordsSha256": sha256_hex(body),
        "keyId": archive.signing_key_id(),
    }
    document = archive.sign_checkpoint(checkpoint)
    stored: dict[str, Any] = {**document, "hash": checkpoint_hash(checkpoint)}
    try:
        tip.update(
            actions=[
                AuditChainModel.checkpoint_seq.set(int(tip.seq)),
                AuditChainModel.checkpoint_hash.set(str(stored["hash"])),
                AuditChainModel.checkpoint_at.set(str(checkpoint["time"])),
                AuditChainModel.checkpoint_archived.set(False),
                AuditChainModel.checkpoint_document.set(json.dumps(stored, sort_keys=True)),
                AuditChainModel.checkpoint_low_id.set(tip.low_id or ""),
                AuditChainModel.low_id.remove(),
            ],
            condition=(AuditChainModel.seq == int(tip.seq))
            & (AuditChainModel.checkpoint_seq == from_seq - 1),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return 0  # the chain moved or another chainer claimed it: the next run decides
        raise
    _archive(document, body)
    _mark_archived(tip, int(tip.seq))
    return 1


def checkpoint_due_chains() -> int:
    """The scheduled sweep: checkpoint every organization whose newest records wait for one."""
    written = 0
    for key in AuditChainModel.by_anchor_due.query(ANCHOR_DUE):
        tip = AuditChainModel.get(key.pk, CHAIN_SK, consistent_read=True)
        try:
            written += maybe_checkpoint(tip.organization_id)
        except Exception:
            logger.exception(
                "audit checkpoint failed", extra={"organization_id": tip.organization_id}
            )
    return written


__all__ = [
    "STREAM_FILTER",
    "ChainOutcome",
    "chain_records",
    "checkpoint_due_chains",
    "handle_stream_event",
    "matches_stream_filter",
    "maybe_checkpoint",
    "read_tip",
]
