"""The audit chain's write path: records link by hash, a change and its record are atomic."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk


def _records(org: str) -> list[audit.AuditRecordModel]:
    return list(
        audit.AuditRecordModel.query(
            org_pk(org), audit.AuditRecordModel.sk.startswith(audit.SEQ_PREFIX)
        )
    )


def test_records_chain_by_hash(client: Any) -> None:
    for i in range(3):
        audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", f"t{i}"))
    records = _records("acme")
    assert [int(r.seq) for r in records] == [1, 2, 3]
    prev = audit.GENESIS_HASH
    for record in records:
        assert record.prev_hash == prev
        assert record.hash == audit.compute_hash(prev, audit.record_body(record))
        prev = record.hash
    assert _records("globex") == []


def test_failed_change_leaves_no_record(client: Any) -> None:
    entry = audit.AuditEntry("acme", "u1", "x", "y", "z")
    audit.transact(entry)

    def failing(tx: Any) -> None:
        tx.condition_check(
            audit.AuditHeadModel,
            org_pk("acme"),
            audit.HEAD_SK,
            condition=audit.AuditHeadModel.seq == 999,
        )

    with pytest.raises(TransactWriteError):
        audit.transact(entry, failing)
    assert len(_records("acme")) == 1
