"""Reading the audit trail: filtered, cursor-paginated listing and chain verification.

The write path is `audit.transact` (unchanged). Here:
- `list_records(organization_id, filters, limit, cursor)`: newest first, one Query on the
  organization's partition (filters on actor, target and time are applied by DynamoDB). The
  cursor is opaque, HMAC-signed, and bound to the organization and the filters: another
  organization's cursor is refused as a cross-organization probe (counts toward containment).
- `verify_chain(organization_id)`: walks every record in sequence order and reports the first
  broken link: a changed byte (hash mismatch), a deleted record (sequence gap or head mismatch),
  reordered or replaced records (sequence or previous-hash mismatch).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from chalicelib.audit.models import AuditHeadModel, AuditRecordModel
from chalicelib.audit.trail import (
    GENESIS_HASH,
    HEAD_SK,
    SEQ_PREFIX,
    compute_hash,
    record_body,
    seq_sk,
)
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.org_keys import org_pk


@dataclasses.dataclass(frozen=True)
class AuditFilters:
    actor_id: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: str | None = None  # ISO 8601, inclusive
    until: str | None = None  # ISO 8601, exclusive

    def digest_source(self) -> list[str | None]:
        return [self.actor_id, self.target_type, self.target_id, self.since, self.until]

    def condition(self) -> Condition | None:
        parts: list[Condition] = []
        if self.actor_id:
            parts.append(AuditRecordModel.actor_id == self.actor_id)
        if self.target_type:
            parts.append(AuditRecordModel.target_type == self.target_type)
        if self.target_id:
            parts.append(AuditRecordModel.target_id == self.target_id)
        if self.since:
            parts.append(AuditRecordModel.at >= _normalize_time(self.since))
        if self.until:
            parts.append(AuditRecordModel.at < _normalize_time(self.until))
        combined: Condition | None = None
        for part in parts:
            combined = part if combined is None else combined & part
        return combined


def _normalize_time(value: str) -> str:
    """ISO 8601 in the records' own format (UTC, milliseconds), so string order is time order."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(details=[{"field": "time", "message": "not ISO 8601"}]) from None
    if parsed.tzinfo is None:
        raise ValidationFailed(details=[{"field": "time", "message": "needs a time zone"}])
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds")


def _binding(filters: AuditFilters) -> str:
    return "audit|" + json.dumps(filters.digest_source(), separators=(",", ":"))


def list_records(
    organization_id: str,
    filters: AuditFilters,
    *,
    limit: int = cursors.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditRecordModel]:
    """One page of an organization's audit records, newest first, and the next cursor."""
    limit = max(1, min(limit, cursors.MAX_LIMIT))
    last_seq = cursors.decode(organization_id, _binding(filters), cursor)
    if last_seq is not None and (not isinstance(last_seq, int) or last_seq < 1):
        raise cursors.CursorRejected(cursors.TAMPERED)
    upper = last_seq - 1 if last_seq is not None else None
    if upper is not None and upper < 1:
        return Page([], None)
    range_condition = (
        AuditRecordModel.sk.between(seq_sk(1), seq_sk(upper))
        if upper is not None
        else AuditRecordModel.sk.startswith(SEQ_PREFIX)
    )
    results = AuditRecordModel.query(
        org_pk(organization_id),
        range_condition,
        filter_condition=filters.condition(),
        scan_index_forward=False,
        page_size=max(limit + 1, 50),
    )
    page: list[AuditRecordModel] = []
    for record in results:
        page.append(record)
        if len(page) > limit:
            break
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        cursors.encode(organization_id, _binding(filters), int(page[-1].seq)) if more else None
    )
    return Page(page, next_cursor)


@dataclasses.dataclass(frozen=True)
class BrokenLink:
    seq: int
    # missing_record | sequence_mismatch | prev_hash_mismatch | hash_mismatch | head_mismatch
    reason: str
    detail: str


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    organization_id: str
    ok: bool
    checked: int
    head_seq: int
    first_broken: BrokenLink | None


def _records_in_order(organization_id: str) -> Iterator[AuditRecordModel]:
    return AuditRecordModel.query(
        org_pk(organization_id),
        AuditRecordModel.sk.startswith(SEQ_PREFIX),
        scan_index_forward=True,
        consistent_read=True,
        page_size=500,
    )


def _check_record(record: AuditRecordModel, expected: int, prev_hash: str) -> BrokenLink | None:
    position = int(record.sk[len(SEQ_PREFIX) :])
    if position != expected:
        return BrokenLink(expected, "missing_record", f"record {expected} is absent")
    if int(record.seq) != position:
        return BrokenLink(
            position, "sequence_mismatch", f"slot {position} holds record {int(record.seq)}"
        )
    if record.prev_hash != prev_hash:
        return BrokenLink(position, "prev_hash_mismatch", "does not link to record before it")
    if compute_hash(record.prev_hash, record_body(record)) != record.hash:
        return BrokenLink(position, "hash_mismatch", "content differs from what was hashed")
    return None


def verify_chain(organization_id: str) -> VerifyReport:
    """Walk the organization's chain from the genesis and report the first broken link."""
    try:
        head = AuditHeadModel.get(org_pk(organization_id), HEAD_SK, consistent_read=True)
        head_seq, head_hash = int(head.seq), head.hash
    except DoesNotExist:
        head_seq, head_hash = 0, GENESIS_HASH
    expected, prev_hash, checked = 1, GENESIS_HASH, 0
    for record in _records_in_order(organization_id):
        broken = _check_record(record, expected, prev_hash)
        if broken is not None:
            return VerifyReport(organization_id, False, checked, head_seq, broken)
        checked += 1
        prev_hash = record.hash
        expected += 1
    last = expected - 1
    if last != head_seq or prev_hash != head_hash:
        seq = last + 1 if head_seq > last else last
        detail = f"head says record {head_seq}, chain ends at {last}"
        if head_seq > last:
            return VerifyReport(
                organization_id,
                False,
                checked,
                head_seq,
                BrokenLink(seq, "missing_record", detail),
            )
        return VerifyReport(
            organization_id, False, checked, head_seq, BrokenLink(seq, "head_mismatch", detail)
        )
    return VerifyReport(organization_id, True, checked, head_seq, None)
