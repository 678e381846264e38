"""Reading the audit trail: filtered, cursor-paginated listing and chain verification.

The write path is `audit.transact`; the chain is built by `audit.chainer`. Here:
- `list_records(organization_id, filters, limit, cursor)`: newest first (by the records'
  time-ordered ids), one Query on the organization's partition (filters on actor, target and time
  are applied by DynamoDB). A record is listed as soon as its change is written, `pending` until
  the chainer gives it its seq and hash. The cursor is opaque, HMAC-signed, and bound to the
  organization and the filters: another organization's cursor is refused as a cross-organization
  probe (counts toward containment).
- `verify_chain(organization_id)`: checks the chain in the table (every chained record in seq
  order, and the tip) and against the signed checkpoints in the archive, and reports the first
  broken seq: a changed byte (hash mismatch), a deleted record (sequence gap), reordered records
  (previous-hash mismatch), a deleted tail (the tip or a checkpoint beyond the chain's end), and
  a tail rewritten and re-hashed after a checkpoint (the table differs from the archive).
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from chalicelib.audit import archive
from chalicelib.audit.checkpoints import (
    GENESIS_HASH,
    ArchiveReport,
    compute_hash,
    verify_archive,
)
from chalicelib.audit.models import CHAIN_SK, RECORD_PREFIX, AuditChainModel, AuditRecordModel
from chalicelib.audit.trail import record_body, record_sk
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


_RECORD_ID = re.compile(r"[0-9a-f]{32}")


def list_records(
    organization_id: str,
    filters: AuditFilters,
    *,
    limit: int = cursors.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AuditRecordModel]:
    """One page of an organization's audit records, newest first, and the next cursor."""
    limit = max(1, min(limit, cursors.MAX_LIMIT))
    last_id = cursors.decode(organization_id, _binding(filters), cursor)
    if last_id is not None and (not isinstance(last_id, str) or not _RECORD_ID.fullmatch(last_id)):
        raise cursors.CursorRejected(cursors.TAMPERED)
    range_condition = (
        AuditRecordModel.sk.between(RECORD_PREFIX, record_sk(last_id))
        if last_id is not None
        else AuditRecordModel.sk.startswith(RECORD_PREFIX)
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
        if last_id is not None and record.record_id >= last_id:
            continue
        page.append(record)
        if len(page) > limit:
            break
    more = len(page) > limit
    page = page[:limit]
    next_cursor = (
        cursors.encode(organization_id, _binding(filters), page[-1].record_id) if more else None
    )
    return Page(page, next_cursor)


@dataclasses.dataclass(frozen=True)
class BrokenLink:
    seq: int
    # Table: missing_record | sequence_mismatch | prev_hash_mismatch | hash_mismatch |
    # head_mismatch. Against the archive: archive_mismatch (the table differs from a signed
    # checkpoint), checkpoint_missing, and `checkpoints.ArchiveBreak`'s reasons.
    reason: str
    detail: str
    checkpoint: int | None = None  # the checkpoint (by its seq) that shows the break, if any


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    organization_id: str
    ok: bool
    checked: int
    head_seq: int
    first_broken: BrokenLink | None
    pending: int = 0
    checkpoints: int = 0
    checkpoint_seq: int = 0


def _table_break(
    chained: list[AuditRecordModel], tip: AuditChainModel | None
) -> tuple[BrokenLink | None, int]:
    """The first broken link of the table's chain, and how many records verified before it."""
    expected, prev_hash = 1, GENESIS_HASH
    for record in chained:
        seq = int(record.seq or 0)
        broken: BrokenLink | None = None
        if seq > expected:
            broken = BrokenLink(expected, "missing_record", f"record {expected} is absent")
        elif seq < expected:
            broken = BrokenLink(seq, "sequence_mismatch", f"two records hold seq {seq}")
        elif record.prev_hash != prev_hash:
            broken = BrokenLink(seq, "prev_hash_mismatch", "does not link to the one before")
        elif compute_hash(prev_hash, record_body(record)) != record.hash:
            broken = BrokenLink(seq, "hash_mismatch", "content differs from what was hashed")
        if broken is not None:
            return broken, expected - 1
        prev_hash = record.hash or ""
        expected += 1
    last = expected - 1
    tip_seq = int(tip.seq) if tip is not None else 0
    tip_hash = tip.hash if tip is not None else GENESIS_HASH
    detail = f"the tip says {tip_seq}, the chain ends at {last}"
    if tip_seq > last:
        return BrokenLink(last + 1, "missing_record", detail), last
    if tip_seq != last or tip_hash != prev_hash:
        return BrokenLink(last, "head_mismatch", detail), last
    return None, last


def _archive_break(
    chained: list[AuditRecordModel], report: ArchiveReport, tip: AuditChainModel | None
) -> BrokenLink | None:
    """Where the table departs from what the (intact) signed checkpoints hold."""
    by_seq = {int(r.seq or 0): r for r in chained}
    for seq in sorted(report.hashes):
        checkpoint = min(c for c in report.checkpoint_seqs if c >= seq)
        record = by_seq.get(seq)
        if record is None:
            detail = f"in checkpoint {checkpoint}, not in the table"
            return BrokenLink(seq, "missing_record", detail, checkpoint)
        if record.hash != report.hashes[seq]:
            detail = f"differs from checkpoint {checkpoint}"
            return BrokenLink(seq, "archive_mismatch", detail, checkpoint)
    claimed = int(tip.checkpoint_seq or 0) if tip is not None else 0
    if tip is not None and tip.checkpoint_archived and claimed > report.last_seq:
        detail = f"checkpoint {claimed} is not in the archive"
        return BrokenLink(report.last_seq + 1, "checkpoint_missing", detail, claimed)
    return None


def archive_report(organization_id: str, objects: dict[str, bytes]) -> ArchiveReport:
    """`checkpoints.verify_archive` over an organization's archived objects (by key)."""
    found = {key: body for key, body in objects.items() if "/checkpoints/" in key}
    return verify_archive(organization_id, found, objects, archive.kms_verifier())


def verify_chain(organization_id: str) -> VerifyReport:
    """Check the organization's chain in the table and against its archived checkpoints; the
    first broken seq wins (a table break before an archive one at the same seq)."""
    try:
        tip: AuditChainModel | None = AuditChainModel.get(
            org_pk(organization_id), CHAIN_SK, consistent_read=True
        )
    except DoesNotExist:
        tip = None
    records = list(
        AuditRecordModel.query(
            org_pk(organization_id),
            AuditRecordModel.sk.startswith(RECORD_PREFIX),
            consistent_read=True,
            page_size=500,
        )
    )
    pending = sum(1 for r in records if r.seq is None)
    chained = sorted((r for r in records if r.seq is not None), key=lambda r: int(r.seq or 0))
    table_broken, checked = _table_break(chained, tip)
    report = archive_report(organization_id, archive.read_org_archive(organization_id))
    archive_broken: BrokenLink | None
    if report.first_broken is not None:
        found = report.first_broken
        archive_broken = BrokenLink(found.seq, found.reason, found.detail, found.checkpoint)
    else:
        archive_broken = _archive_break(chained, report, tip)
    candidates = [b for b in (table_broken, archive_broken) if b is not None]
    first = min(candidates, key=lambda b: b.seq) if candidates else None
    return VerifyReport(
        organization_id,
        first is None,
        checked,
        int(tip.seq) if tip is not None else 0,
        first,
        pending=pending,
        checkpoints=report.checkpoints,
        checkpoint_seq=report.last_seq,
    )
