"""The audit trail's write path and the chainer: records are written with the change (pending,
touching no shared item), the chainer orders and hash-chains them, contention never becomes a
5xx, and the chainer survives redelivery and a competing chainer."""

from __future__ import annotations

from typing import Any

import pytest
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from pynamodb.exceptions import TransactWriteError

from chalicelib.audit import chainer
from chalicelib.audit import log as audit_log
from chalicelib.audit import trail as audit
from chalicelib.core.errors import ServiceUnavailable
from chalicelib.core.org_keys import org_pk
from devstack.audit_stream import take_stream_records
from tests.support.audit import chain_all


def _records(org: str) -> list[audit.AuditRecordModel]:
    return list(
        audit.AuditRecordModel.query(
            org_pk(org), audit.AuditRecordModel.sk.startswith(audit.RECORD_PREFIX)
        )
    )


def _keys_written(backend_calls: list[list[dict[str, Any]]]) -> set[tuple[str, str]]:
    keys = set()
    for items in backend_calls:
        for item in items:
            op = next(iter(item.values()))
            key = op.get("Key") or {k: op["Item"][k] for k in ("pk", "sk")}
            keys.add((key["pk"]["S"], key["sk"]["S"]))
    return keys


def test_a_write_touches_only_its_own_record(client: Any, monkeypatch: Any) -> None:
    calls: list[list[dict[str, Any]]] = []
    original = DynamoDBBackend.transact_write_items

    def spy(self: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(list(transact_items))
        return original(self, transact_items, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", spy)
    first = audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", "t1"))
    second = audit.transact(audit.AuditEntry("acme", "u2", "ticket.create", "ticket", "t2"))
    # Each transaction holds its own new record only: no head, counter or other shared item.
    assert _keys_written(calls[:1]) == {(first.pk, first.sk)}
    assert _keys_written(calls[1:]) == {(second.pk, second.sk)}
    assert first.record_id < second.record_id
    assert first.pending and second.pending


def test_the_chainer_orders_and_links_records(client: Any) -> None:
    for i in range(5):
        audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", f"t{i}"))
    audit.transact(audit.AuditEntry("globex", "u9", "ticket.create", "ticket", "g1"))
    assert all(record.pending for record in _records("acme"))
    chain_all()
    records = _records("acme")
    assert [int(r.seq or 0) for r in records] == [1, 2, 3, 4, 5]  # id order == seq order
    assert [r.target_id for r in records] == [f"t{i}" for i in range(5)]
    prev = audit.GENESIS_HASH
    for record in records:
        assert record.prev_hash == prev
        assert record.hash == audit.compute_hash(prev, audit.record_body(record))
        prev = record.hash
    assert [int(r.seq or 0) for r in _records("globex")] == [1]  # one chain per organization
    tip = chainer.read_tip("acme")
    assert tip is not None and (int(tip.seq), tip.hash) == (5, prev)


def test_a_failed_change_leaves_no_record(client: Any) -> None:
    audit.transact(audit.AuditEntry("acme", "u1", "x", "y", "z"))

    def failing(tx: Any) -> None:
        tx.condition_check(
            audit.AuditRecordModel,
            org_pk("acme"),
            audit.record_sk("0" * 32),
            condition=audit.AuditRecordModel.pk.exists(),
        )

    with pytest.raises(TransactWriteError):
        audit.transact(audit.AuditEntry("acme", "u1", "x", "y", "z"), failing)
    assert len(_records("acme")) == 1


def _conflicts(monkeypatch: Any, count: int) -> list[int]:
    """The next `count` transactions are cancelled as DynamoDB cancels racing ones."""
    seen = [0]
    original = DynamoDBBackend.transact_write_items

    def racing(self: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
        seen[0] += 1
        if seen[0] <= count:
            raise TransactionCanceledException(
                [("TransactionConflict", "Transaction is ongoing for the item", None)]
                * len(transact_items)
            )
        return original(self, transact_items, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", racing)
    return seen


def test_transaction_conflicts_are_retried(client: Any, monkeypatch: Any) -> None:
    seen = _conflicts(monkeypatch, 3)
    record = audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", "t1"))
    assert seen[0] == 4
    assert [r.record_id for r in _records("acme")] == [record.record_id]


def test_persistent_conflicts_are_503_with_retry_after(
    client: Any, make_org: Any, monkeypatch: Any
) -> None:
    org = make_org()
    with pytest.raises(ServiceUnavailable):
        _conflicts(monkeypatch, 1000)
        audit.transact(audit.AuditEntry(org.id, "u1", "ticket.create", "ticket", "t1"))
    response = client.post(
        "/api/tickets", json={"subject": "s", "body": "b"}, token=org.requester.token
    )
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert response.json["error"]["code"] == "SERVICE_UNAVAILABLE"


def test_redelivered_stream_records_are_chained_once(client: Any, app: Any) -> None:
    for i in range(3):
        audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", f"t{i}"))
    batch = take_stream_records()
    handler = app.handler_map["chain_audit_records"]
    assert handler({"Records": batch}, None)["chained"] == 3
    take_stream_records()  # the chainer's own updates (MODIFY events, filtered out in AWS)
    handler({"Records": batch}, None)  # Lambda delivers a batch again after a timeout
    assert [int(r.seq or 0) for r in _records("acme")] == [1, 2, 3]
    assert audit_log.verify_chain("acme").ok


def test_a_competing_chainer_moves_the_tip_first(client: Any, monkeypatch: Any) -> None:
    """Two chainers on one organization (e.g. after a shard split): the tip's condition lets one
    win each round; the loser re-chains on the new tip, nothing forks."""
    for i in range(4):
        audit.transact(audit.AuditEntry("acme", "u1", "ticket.create", "ticket", f"t{i}"))
    records = _records("acme")
    original = chainer._chain_once
    raced = [False]

    def with_rival(org: str, tip: Any, batch: Any) -> None:
        if not raced[0]:
            raced[0] = True
            fresh = audit.AuditRecordModel.get(records[0].pk, records[0].sk)
            original(org, tip, [fresh])  # the rival chains the first record
        original(org, tip, batch)

    monkeypatch.setattr(chainer, "_chain_once", with_rival)
    assert chainer.chain_records("acme", records[1:]) == 3
    assert [int(r.seq or 0) for r in _records("acme")] == [1, 2, 3, 4]
    assert audit_log.verify_chain("acme").ok
