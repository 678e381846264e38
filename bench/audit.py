"""Audited writes per second in one organization: this design against the head-item design.

Both designs run in the same process on moto, with DynamoDB's transaction semantics imitated
(moto has neither): a transaction is atomic, takes `--latency-ms` to commit, and is cancelled
with `TransactionConflict` if another transaction is in flight on one of its items; every read
takes `--latency-ms` too. At 1, 8 and 32 concurrent writers, each writer creates `--writes`
audited changes: `audit.transact` with the change being one put of a small item of its own
(the audited write alone; a full ticket create adds CPU in this process that a Lambda fleet
spreads over many machines):

- new: the record is put under its own time-ordered id with the change (`audit.trail`); the
  chainer consumes the stream concurrently (as the event source mapping would), and its lag
  (record written -> chained) is reported as p50/p99;
- head: the previous write path, kept here only: read the organization's HEAD item, put the
  record at seq+1 and move the head conditionally, retried five times without backoff (409
  "audit trail is busy" after that; a conflict on an unmoved head re-raised, a 500).

Prints a markdown table. moto is not DynamoDB: compare the designs, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)

LEVELS = (1, 8, 32)


# --- DynamoDB's transaction semantics on moto ------------------------------------------------


def _item_keys(transact_items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    keys = []
    for entry in transact_items:
        operation = next(iter(entry.values()))
        key = operation.get("Key") or operation["Item"]
        keys.append((operation["TableName"], key["pk"]["S"], key["sk"]["S"]))
    return keys


@contextlib.contextmanager
def dynamodb_like(latency_s: float) -> Iterator[None]:
    """Patch moto's backend: atomic, latency-bearing transactions that conflict like DynamoDB's."""
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import DynamoDBBackend

    apply_lock = threading.RLock()  # moto's transaction calls get_item itself
    inside = threading.local()
    flight_lock = threading.Lock()
    in_flight: set[tuple[str, str, str]] = set()
    original_transact = DynamoDBBackend.transact_write_items
    original_get = DynamoDBBackend.get_item
    # moto backs up a table before a transaction with a deep copy of the whole table, once per
    # *item* of the transaction: that CPU (serialized here) would dominate the figures. The
    # backup below restores the same state (tables' item maps and each item's attributes are
    # copied; attribute values are replaced, never mutated, by moto's writes) at a fraction of
    # the cost, once per table and transaction.
    import moto.dynamodb.models as moto_models
    from moto.dynamodb.models.table import Table

    real_copy = moto_models.copy
    backups: dict[int, Any] = {}

    def _item_copy(item: Any) -> Any:
        clone = real_copy.copy(item)
        clone.attrs = real_copy.copy(item.attrs)
        return clone

    def _table_backup(table: Any) -> Any:
        clone = real_copy.copy(table)
        clone.items = type(table.items)(dict)
        for hash_key, value in table.items.items():
            clone.items[hash_key] = (
                {rk: _item_copy(item) for rk, item in value.items()}
                if table.has_range_key
                else _item_copy(value)
            )
        return clone

    class _OnceCopy:
        copy = staticmethod(real_copy.copy)

        @staticmethod
        def deepcopy(value: Any) -> Any:
            if not isinstance(value, Table):
                return real_copy.deepcopy(value)
            if id(value) not in backups:
                backups[id(value)] = _table_backup(value)
            return backups[id(value)]

    moto_models.copy = _OnceCopy  # type: ignore[assignment]

    def transact(self: Any, transact_items: list[dict[str, Any]], *args: Any, **kw: Any) -> Any:
        keys = _item_keys(transact_items)
        with flight_lock:
            busy = [key in in_flight for key in keys]
            if not any(busy):
                in_flight.update(keys)
        if any(busy):
            time.sleep(latency_s / 2)
            raise TransactionCanceledException(
                [("TransactionConflict", "Transaction is ongoing for the item", None) if b
                 else (None, None, None) for b in busy]
            )  # fmt: skip
        try:
            time.sleep(latency_s)  # the items are locked while the transaction commits
            with apply_lock:
                inside.active = True
                backups.clear()
                try:
                    return original_transact(self, transact_items, *args, **kw)
                finally:
                    inside.active = False
        finally:
            with flight_lock:
                in_flight.difference_update(keys)

    def get_item(self: Any, *args: Any, **kw: Any) -> Any:
        if not getattr(inside, "active", False):
            time.sleep(latency_s)  # a client's read (not moto's own, inside a transaction)
        with apply_lock:
            return original_get(self, *args, **kw)

    DynamoDBBackend.transact_write_items = transact  # type: ignore[method-assign]
    DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original_transact  # type: ignore[method-assign]
        DynamoDBBackend.get_item = original_get  # type: ignore[method-assign]
        moto_models.copy = real_copy  # type: ignore[assignment]


# --- The head-item design (the previous write path, for comparison only) ---------------------


def head_item_transact() -> Callable[..., Any]:
    """The former `audit.transact`: one HEAD item per organization, moved by every write."""
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute
    from pynamodb.exceptions import DoesNotExist, TransactWriteError
    from pynamodb.transactions import TransactWrite

    from chalicelib.audit import trail
    from chalicelib.audit.models import AuditItem
    from chalicelib.core.dynamo import connection, table_meta
    from chalicelib.core.errors import Conflict

    class HeadModel(AuditItem):
        Meta = table_meta("audit")
        seq = NumberAttribute()
        hash = UnicodeAttribute()

    class SeqRecordModel(AuditItem):
        Meta = table_meta("audit")
        organization_id = UnicodeAttribute()
        seq = NumberAttribute()
        details = UnicodeAttribute()
        prev_hash = UnicodeAttribute()
        hash = UnicodeAttribute()

    def read_head(org: str) -> tuple[int, str]:
        try:
            head = HeadModel.get(trail.org_pk(org), "HEAD", consistent_read=True)
        except DoesNotExist:
            return 0, trail.GENESIS_HASH
        return int(head.seq), head.hash

    def transact(entry: Any, build: Any = None, **_: Any) -> Any:
        for _attempt in range(5):
            prev_seq, prev_hash = read_head(entry.organization_id)
            body = {"action": entry.action, "seq": prev_seq + 1, "target": entry.target_id}
            digest = trail.compute_hash(prev_hash, body)
            record = SeqRecordModel(
                trail.org_pk(entry.organization_id),
                f"SEQ#{prev_seq + 1:012d}",
                organization_id=entry.organization_id,
                seq=prev_seq + 1,
                details=trail.canonical_json(body),
                prev_hash=prev_hash,
                hash=digest,
            )
            head = HeadModel(record.pk, "HEAD", seq=prev_seq + 1, hash=digest)
            try:
                with TransactWrite(connection=connection()) as tx:
                    if build is not None:
                        build(tx)
                    tx.save(record, condition=SeqRecordModel.pk.does_not_exist())
                    if prev_seq == 0:
                        tx.save(head, condition=HeadModel.pk.does_not_exist())
                    else:
                        tx.save(head, condition=HeadModel.seq == prev_seq)
            except TransactWriteError:
                if read_head(entry.organization_id)[0] != prev_seq:
                    continue
                raise
            return record
        raise Conflict("The audit trail is busy; retry the request.")

    return transact


# --- The run ---------------------------------------------------------------------------------


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class ChainerThread(threading.Thread):
    """Consumes the audit stream while the writers run, batched like the event source mapping
    (`infra.cfn_audit`): a batch is delivered at 100 records or 1 s after its first record."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.lag_ms: list[float] = []

    def run(self) -> None:
        from chalicelib.audit.chainer import handle_stream_event, matches_stream_filter
        from devstack.audit_stream import take_stream_records
        from infra.cfn_audit import AUDIT_CHAINER_BATCH_SIZE, AUDIT_CHAINER_BATCHING_WINDOW_SECONDS

        batch: list[dict[str, Any]] = []
        first_at = 0.0
        while True:
            taken = take_stream_records(AUDIT_CHAINER_BATCH_SIZE - len(batch))
            fresh = [r for r in taken if matches_stream_filter(r)]
            if fresh and not batch:
                first_at = time.monotonic()
            batch += fresh
            window_over = time.monotonic() - first_at >= AUDIT_CHAINER_BATCHING_WINDOW_SECONDS
            if batch and (
                len(batch) >= AUDIT_CHAINER_BATCH_SIZE or window_over or self.stop.is_set()
            ):
                self.lag_ms += handle_stream_event({"Records": batch}).lag_ms
                batch = []
            elif not taken:
                if self.stop.is_set() and not batch:
                    return
                time.sleep(0.02)


def run_level(design: str, writers: int, writes: int, latency_s: float) -> dict[str, Any]:
    from moto import mock_aws

    with mock_aws(), contextlib.redirect_stdout(io.StringIO()), dynamodb_like(latency_s):
        from chalicelib.audit import trail
        from chalicelib.tables import create_tables
        from chalicelib.tickets.models import TagModel
        from devstack.resources import create_buckets

        create_tables()
        create_buckets()
        original = trail.transact
        if design == "head":
            trail.transact = head_item_transact()  # type: ignore[assignment]
        # "new": the chainer consumes the stream during the run (sharing this process's CPU with
        # the writers, unlike separate Lambda functions); "new, chainer after": the writers run
        # alone, then the chainer catches up, timed (its rate in records/s).
        chainer = ChainerThread() if design != "head" else None
        if chainer is not None and design == "new":
            chainer.start()
        ok = failed = 0
        outcomes_lock = threading.Lock()
        barrier = threading.Barrier(writers + 1)

        # One write before the clock starts: clients, models and the organization's first record.
        trail.transact(trail.AuditEntry("org-bench", "warm-up", "bench.start", "bench", "0"))

        def writer(index: int) -> None:
            nonlocal ok, failed
            barrier.wait()
            for n in range(writes):
                change = TagModel.for_ticket("org-bench", f"ticket-{index}", f"tag-{n}")
                entry = trail.AuditEntry(
                    "org-bench", f"agent-{index}", "ticket.tag", "ticket", f"ticket-{index}"
                )
                try:
                    trail.transact(entry, lambda tx, item=change: tx.save(item))
                    success = True
                except Exception:
                    success = False
                with outcomes_lock:
                    ok, failed = (ok + 1, failed) if success else (ok, failed + 1)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
        try:
            for thread in threads:
                thread.start()
            barrier.wait()
            start = time.perf_counter()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - start
            chain_seconds = 0.0
            if chainer is not None:
                chainer.stop.set()
                chain_start = time.perf_counter()
                if design == "new":
                    chainer.join()
                else:
                    chainer.run()
                chain_seconds = time.perf_counter() - chain_start
        finally:
            trail.transact = original  # type: ignore[assignment]
        lag = chainer.lag_ms if chainer is not None else []
        return {
            "design": design,
            "writers": writers,
            "writes": writers * writes,
            "ok": ok,
            "failed": failed,
            "per_second": ok / elapsed if elapsed else 0.0,
            "lag_p50": _percentile(lag, 0.5) if lag and design == "new" else None,
            "lag_p99": _percentile(lag, 0.99) if lag and design == "new" else None,
            "chain_rate": len(lag) / chain_seconds if design != "new" and chain_seconds else None,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=10, help="audited writes per writer")
    parser.add_argument("--latency-ms", type=float, default=10.0)
    args = parser.parse_args()
    rows = []
    for writers in LEVELS:
        for design in ("head", "new", "new, chainer after"):
            rows.append(run_level(design, writers, args.writes, args.latency_ms / 1000))
    print(
        f"Audited writes in one organization ({args.writes} per writer, "
        f"{args.latency_ms:g} ms simulated DynamoDB latency)\n"
    )
    print("| writers | design | writes | ok | failed | writes/s | chainer lag p50 / p99 (ms) |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        if row["lag_p50"] is not None:
            lag = f"{row['lag_p50']:.0f} / {row['lag_p99']:.0f}"
        elif row["chain_rate"] is not None:
            lag = f"(then chains {row['chain_rate']:.0f} records/s)"
        else:
            lag = "-"
        print(
            f"| {row['writers']} | {row['design']} | {row['writes']} | {row['ok']} | "
            f"{row['failed']} | {row['per_second']:.1f} | {lag} |"
        )
    by = {(r["design"], r["writers"]): r for r in rows}
    head32 = by[("head", 32)]
    for design in ("new", "new, chainer after"):
        row = by[(design, 32)]
        ratio = row["per_second"] / head32["per_second"] if head32["per_second"] else float("inf")
        print(
            f"32 writers, {design}: {ratio:.1f}x the head-item design's writes/s; "
            f"failed writes {row['failed']} (head-item design: {head32['failed']})"
        )


if __name__ == "__main__":
    main()
