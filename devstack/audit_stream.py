"""The audit table's stream for the local stack and the tests.

moto records every write to a table with a stream (puts, updates and transactions alike) in
its in-memory shard, but over the API only `ListStreams` answers (`DescribeStream` and
`GetShardIterator` are not implemented). So this pump takes the records straight from moto's
shard, in the process that runs moto, and hands them to the app's real `chain_audit_records`
function in batches, as the event source mapping does in AWS: same record shape (including
`ApproximateCreationDateTime` as epoch seconds), same filter (`STREAM_FILTER`), same batch size.
It also runs the scheduled checkpoint sweep. Delivered records are removed from the shard, as
moto itself does when a Lambda event source mapping consumes them.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from chalice.app import Chalice
from chalice.local import LambdaContext
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from chalicelib.api.audit_chainer import CHAINER_FUNCTION, CHECKPOINT_SWEEP_FUNCTION
from chalicelib.audit.chainer import matches_stream_filter
from chalicelib.core.settings import get_settings
from devstack.moto_lock import MOTO_LOCK

BATCH_SIZE = 100  # the event source mapping's BatchSize (infra.cfn_audit)
POLL_SECONDS = 0.2
SWEEP_SECONDS = 5.0


def _stream_json(record: Any) -> dict[str, Any]:
    data: dict[str, Any] = dict(record.to_json())
    dynamodb = dict(data["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    data["dynamodb"] = dynamodb
    data["awsRegion"] = get_settings().region
    return data


def take_stream_records(limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
    """Up to `limit` records from the audit table's shard (oldest first), removed from it."""
    settings = get_settings()
    with MOTO_LOCK:  # no DynamoDB action changes the shard meanwhile
        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][settings.region]
        table = backend.tables.get(settings.table_name("audit"))
        shard = getattr(table, "stream_shard", None) if table is not None else None
        if shard is None:
            return []
        taken = shard.items[:limit]
        del shard.items[: len(taken)]  # appends since the slice stay (they are after it)
        return [_stream_json(record) for record in taken]


def deliver_once(app: Chalice) -> int:
    """One batch through the chainer; returns how many stream records were taken."""
    records = take_stream_records()
    batch = [record for record in records if matches_stream_filter(record)]
    if batch:
        handler = app.handler_map[CHAINER_FUNCTION]
        handler({"Records": batch}, LambdaContext(CHAINER_FUNCTION, memory_size=512))
    return len(records)


def scheduled_event() -> dict[str, Any]:
    """An EventBridge "Scheduled Event" (what the sweep's schedule delivers)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": DEFAULT_ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": get_settings().region,
        "resources": [],
        "detail": {},
    }


def sweep(app: Chalice) -> None:
    """Run the scheduled checkpoint sweep once."""
    app.handler_map[CHECKPOINT_SWEEP_FUNCTION](scheduled_event(), None)


def drain(app: Chalice, *, sweep_checkpoints: bool = False) -> None:
    """Deliver until the stream is empty (tests: "once the chainer has caught up")."""
    while deliver_once(app):
        pass
    if sweep_checkpoints:
        sweep(app)


class AuditStreamPump(threading.Thread):
    """`make run`: delivers the audit stream to the chainer continuously, sweeps checkpoints."""

    def __init__(self, app: Chalice, stop: threading.Event) -> None:
        super().__init__(name="audit-stream-pump", daemon=True)
        self.app = app
        self.stop = stop

    def run(self) -> None:
        waited = 0.0
        while not self.stop.wait(POLL_SECONDS):
            try:
                while deliver_once(self.app):
                    pass
                waited += POLL_SECONDS
                if waited >= SWEEP_SECONDS:
                    waited = 0.0
                    sweep(self.app)
            except Exception as error:  # Lambda would retry the batch; keep pumping
                print(f"[audit-stream] delivery failed: {type(error).__name__}: {error}")
