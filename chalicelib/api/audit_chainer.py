"""The audit chainer's functions: the stream consumer and the checkpoint sweep.

`chain_audit_records` is a plain Lambda function (`lambda_function`), not `on_dynamodb_record`:
Chalice's decorator needs the stream's ARN as a literal when the app is imported, but the audit
table (and so its stream, whose ARN carries a creation timestamp) is created by the same stack.
`infra.cfn_audit` wires an `AWS::Lambda::EventSourceMapping` from the table's stream (batched,
filtered to new `REC#` items, one batch per shard at a time) to this function instead. An
exception makes Lambda retry the batch; redelivered records are skipped by the chainer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Rate

from chalicelib.core.lazy import lazy_module
from chalicelib.core.observability import traced

if TYPE_CHECKING:  # imported by these functions' first event, not by every function's import
    from chalicelib.audit import chainer
else:
    chainer = lazy_module("chalicelib.audit.chainer")

audit_chainer_bp = Blueprint(__name__)

CHAINER_FUNCTION = "chain_audit_records"
CHECKPOINT_SWEEP_FUNCTION = "checkpoint_audit_chains"


@audit_chainer_bp.lambda_function(name=CHAINER_FUNCTION)
def chain_audit_records(event: dict[str, Any], context: Any) -> dict[str, int]:
    """A batch of the audit table's stream -> records chained (and checkpoints written)."""
    with traced("## chain_audit_records") as annotate:
        outcome = chainer.handle_stream_event(event)
        annotate(chained=outcome.chained, checkpoints=outcome.checkpoints)
    return {
        "chained": outcome.chained,
        "organizations": outcome.organizations,
        "checkpoints": outcome.checkpoints,
    }


@audit_chainer_bp.schedule(Rate(5, unit=Rate.MINUTES), name=CHECKPOINT_SWEEP_FUNCTION)
def checkpoint_audit_chains(event: Any) -> dict[str, int]:
    """Checkpoint quiet organizations whose last records no checkpoint covers yet."""
    with traced("## checkpoint_audit_chains") as annotate:
        written = chainer.checkpoint_due_chains()
        annotate(checkpoints=written)
    return {"checkpoints": written}
