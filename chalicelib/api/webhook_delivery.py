"""The webhook delivery functions: the stream consumer and the one-minute queue sweep.

`deliver_webhooks` is a plain Lambda function wired to the webhooks table's stream by
`infra.cfn_webhooks` (an `AWS::Lambda::EventSourceMapping` filtered to inserted `EVT#` and
`DLV#` items), for the same reason as the audit chainer: the stream's ARN is only known once
the stack exists. `retry_webhook_deliveries` drains what is due: retries after their backoff,
and anything the stream consumer missed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Rate

from chalicelib.core.lazy import lazy_module
from chalicelib.core.observability import traced

if TYPE_CHECKING:  # imported by these functions' first event, not by every function's import
    from chalicelib.webhooks import delivery
else:
    delivery = lazy_module("chalicelib.webhooks.delivery")

webhook_delivery_bp = Blueprint(__name__)

DELIVERY_FUNCTION = "deliver_webhooks"
SWEEP_FUNCTION = "retry_webhook_deliveries"


def _summary(outcomes: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.kind] = counts.get(outcome.kind, 0) + 1
    return counts


@webhook_delivery_bp.lambda_function(name=DELIVERY_FUNCTION)
def deliver_webhooks(event: dict[str, Any], context: Any) -> dict[str, int]:
    """A batch of the webhooks table's stream -> events fanned out, deliveries attempted."""
    with traced("## deliver_webhooks") as annotate:
        counts = _summary(delivery.process_stream_event(event))
        annotate(**counts)
    return counts


@webhook_delivery_bp.schedule(Rate(1, unit=Rate.MINUTES), name=SWEEP_FUNCTION)
def retry_webhook_deliveries(event: Any) -> dict[str, int]:
    """Attempt every delivery whose next attempt is due (and fan out missed events)."""
    with traced("## retry_webhook_deliveries") as annotate:
        counts = _summary(delivery.process_due())
        annotate(**counts)
    return counts
