"""Delivering webhook events: fan-out, signed attempts, backoff, the delivery log, redelivery.

The queue is the table's sparse `by_due` index. An outbox event (`EVT#`, written with the
change) is due at once: `process_item` makes one delivery per active endpoint subscribed to its
type (idempotent: a delivery's key derives from the event and the endpoint) and takes the event
off the queue. A delivery (`DLV#`) is due until it succeeds or fails for good: each attempt is
claimed first (a conditional move of `due_at` past a lease, so two consumers never send the
same attempt), signed with the endpoint's secrets in force, sent through `transport.send`, and
recorded (status, latency, error, a short response prefix). A failed attempt is retried after
an exponential backoff with jitter until `webhook_retry_window_seconds` after the delivery was
made; past that it is FAILED. Nothing here runs on the API's request path.

Production: the webhooks table's stream (new `EVT#` and `DLV#` items) invokes the delivery
function at once, and a one-minute schedule drains what is due (retries, missed records). The
tests and the local stack call `pump()`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import Principal
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.security_events import emit
from chalicelib.webhooks import endpoints, signing, transport
from chalicelib.webhooks.models import (
    DELIVERY_PREFIX,
    DUE,
    AttemptMap,
    DeliveryModel,
    EventModel,
    WebhookItem,
    delivery_sk,
)

PENDING, SUCCEEDED, FAILED = "PENDING", "SUCCEEDED", "FAILED"
DELIVERY_ID = re.compile(r"[0-9a-f]{32}")
# Backoff: 30 s, 1 min, 2 min, ... doubling up to one hour between attempts, each delay drawn
# uniformly from [half, all] of its step ("equal jitter"), for the retry window (24 h default).
BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 3600
# An attempt holds its delivery this long (longer than any attempt can take).
CLAIM_LEASE_SECONDS = 120
HISTORY_KEPT = 20
# Finished events and deliveries stay readable in the log this long, then expire.
RETENTION_SECONDS = 30 * 86400
EVENT_RETENTION_SECONDS = 7 * 86400
# What the event source mapping delivers (Lambda event filtering): new events and deliveries.
STREAM_FILTER: dict[str, Any] = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "EVT#"}, {"prefix": DELIVERY_PREFIX}]}}},
}
HEADER_DELIVERY = "X-Deskguard-Delivery"
HEADER_EVENT = "X-Deskguard-Event"
HEADER_SIGNATURE = "X-Deskguard-Signature"


def now() -> float:
    """The delivery clock (tests move it)."""
    return time.time()


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")


def _expiry(at: float, seconds: int) -> datetime:
    return datetime.fromtimestamp(at + seconds, UTC)


def backoff_seconds(attempts: int) -> float:
    """The delay before the next attempt after `attempts` failed ones (>= 1)."""
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return random.uniform(step / 2, step)  # noqa: S311 (jitter, not a secret)


def delivery_id_for(event_id: str, endpoint_id: str) -> str:
    """The first delivery of an event to an endpoint: time-ordered like the event, unique per
    endpoint, the same however often the event is fanned out."""
    digest = hashlib.sha256(f"{event_id}|{endpoint_id}".encode()).hexdigest()
    return event_id[:12] + digest[:20]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What processing one queue item did (for logs, tests and the functions' results)."""

    kind: str  # fanned_out | delivered | retry | failed | skipped
    delivery_id: str | None = None
    endpoint_id: str | None = None
    deliveries: int = 0


# --- Fan-out ---------------------------------------------------------------------------------


def _new_delivery(
    event_id: str,
    event_type: str,
    organization_id: str,
    endpoint_id: str,
    body: str,
    *,
    delivery_id: str,
    at: float,
    redelivery_of: str | None = None,
) -> DeliveryModel:
    return DeliveryModel(
        org_pk(organization_id),
        delivery_sk(endpoint_id, delivery_id),
        delivery_id=delivery_id,
        endpoint_id=endpoint_id,
        organization_id=organization_id,
        event_id=event_id,
        event_type=event_type,
        body=body,
        status=PENDING,
        attempts=0,
        created_at=_iso(at),
        deadline_at=int(at) + get_settings().webhook_retry_window_seconds,
        redelivery_of=redelivery_of,
        due=DUE,
        due_at=int(at),
    )


def fan_out(event: EventModel) -> Outcome:
    """One delivery per active endpoint subscribed to the event's type; then the event leaves
    the queue. Safe to repeat (a delivery that exists is left alone)."""
    at = now()
    made = 0
    for endpoint in endpoints.all_endpoints(event.organization_id):
        if not endpoint.active or event.event_type not in set(endpoint.events):
            continue
        delivery = _new_delivery(
            event.event_id,
            event.event_type,
            event.organization_id,
            endpoint.endpoint_id,
            event.body,
            delivery_id=delivery_id_for(event.event_id, endpoint.endpoint_id),
            at=at,
        )
        try:
            delivery.save(condition=DeliveryModel.pk.does_not_exist())
            made += 1
        except PutError as error:
            if not is_condition_failure(error):
                raise
    try:
        event.update(
            actions=[
                EventModel.due.remove(),
                EventModel.due_at.remove(),
                EventModel.expires_at.set(_expiry(at, EVENT_RETENTION_SECONDS)),
            ],
            condition=EventModel.pk.exists(),
        )
    except UpdateError as error:
        if not is_condition_failure(error):
            raise
    return Outcome("fanned_out", deliveries=made)


# --- Attempts --------------------------------------------------------------------------------


def _claim(delivery: DeliveryModel, at: float) -> bool:
    """Take the delivery's next attempt for this consumer (False: someone else has it, or it
    is no longer pending)."""
    try:
        delivery.update(
            actions=[DeliveryModel.due_at.set(int(at) + CLAIM_LEASE_SECONDS)],
            condition=(DeliveryModel.status == PENDING)
            & (DeliveryModel.due_at == delivery.due_at)
            & (DeliveryModel.attempts == delivery.attempts),
        )
    except UpdateError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def _finish(delivery: DeliveryModel, result: transport.AttemptResult, at: float) -> Outcome:
    """Record an attempt and schedule the next one, or end the delivery."""
    attempts = int(delivery.attempts) + 1
    entry = AttemptMap(  # type: ignore[no-untyped-call]
        at=_iso(at), status=result.status, latency_ms=result.latency_ms, error=result.error
    )
    history = [*list(delivery.history or []), entry][-HISTORY_KEPT:]
    actions: list[Any] = [
        DeliveryModel.attempts.set(attempts),
        DeliveryModel.last_attempt_at.set(_iso(at)),
        DeliveryModel.latency_ms.set(result.latency_ms),
        DeliveryModel.history.set(history),
    ]
    actions.append(
        DeliveryModel.response_status.set(result.status)
        if result.status is not None
        else DeliveryModel.response_status.remove()
    )
    actions.append(
        DeliveryModel.error.set(result.error) if result.error else DeliveryModel.error.remove()
    )
    actions.append(
        DeliveryModel.response_prefix.set(result.response_prefix)
        if result.response_prefix
        else DeliveryModel.response_prefix.remove()
    )
    next_at = at + backoff_seconds(attempts)
    if result.ok:
        kind, status = "delivered", SUCCEEDED
    elif next_at <= int(delivery.deadline_at):
        kind, status = "retry", PENDING
    else:
        kind, status = "failed", FAILED
    actions.append(DeliveryModel.status.set(status))
    if status == PENDING:
        actions.append(DeliveryModel.due_at.set(int(next_at)))
    else:
        actions += [
            DeliveryModel.due.remove(),
            DeliveryModel.due_at.remove(),
            DeliveryModel.expires_at.set(_expiry(at, RETENTION_SECONDS)),
        ]
    try:
        delivery.update(actions=actions, condition=DeliveryModel.attempts == attempts - 1)
    except UpdateError as error:
        if is_condition_failure(error):  # recorded by another consumer meanwhile
            return Outcome("skipped", delivery.delivery_id, delivery.endpoint_id)
        raise
    logger.info(
        "webhook attempt",
        extra={
            "webhook_id": delivery.endpoint_id,
            "delivery_id": delivery.delivery_id,
            "event_type": delivery.event_type,
            "attempt": attempts,
            "outcome": kind,
            "response_status": result.status,
            "latency_ms": result.latency_ms,
            "error": result.error,
        },
    )
    return Outcome(kind, delivery.delivery_id, delivery.endpoint_id)


def _end_without_attempt(delivery: DeliveryModel, reason: str, at: float) -> Outcome:
    result = transport.AttemptResult(False, None, 0, reason, "")
    # Past its deadline at once: recorded as a final failure, no retries.
    delivery.deadline_at = int(at)
    return _finish(delivery, result, at)


def attempt(delivery: DeliveryModel) -> Outcome:
    """One attempt of a pending delivery (claimed first)."""
    at = now()
    if delivery.status != PENDING or not _claim(delivery, at):
        return Outcome("skipped", delivery.delivery_id, delivery.endpoint_id)
    try:
        endpoint = endpoints.get_endpoint(delivery.organization_id, delivery.endpoint_id)
    except NotFound:
        return _end_without_attempt(delivery, "endpoint_deleted", at)
    if not endpoint.active:
        return _end_without_attempt(delivery, "endpoint_inactive", at)
    body = delivery.body.encode()
    timestamp = int(at)
    headers = {
        HEADER_DELIVERY: delivery.delivery_id,
        HEADER_EVENT: delivery.event_type,
        HEADER_SIGNATURE: signing.signature_header(
            endpoints.secrets_in_force(endpoint, at), timestamp, body
        ),
    }
    try:
        result = transport.send(endpoint.url, body, headers)
    except Exception as error:  # a bug in the client must not wedge the queue
        logger.exception("webhook attempt crashed", extra={"delivery_id": delivery.delivery_id})
        crash = f"client_error: {type(error).__name__}"
        result = transport.AttemptResult(False, None, 0, crash, "")
    reason = (result.error or "").removeprefix("refused: ")
    if reason in transport.ADDRESS_REASONS:
        emit(
            "security.suspicious_activity",
            reason="webhook_target_refused",
            kind=reason,
            target_type="webhook",
            target_id=delivery.endpoint_id,
            organization_id=delivery.organization_id,
        )
    return _finish(delivery, result, at)


# --- The queue -------------------------------------------------------------------------------


def process_item(item: WebhookItem) -> Outcome:
    if isinstance(item, EventModel):
        return fan_out(item)
    if isinstance(item, DeliveryModel):
        return attempt(item)
    return Outcome("skipped")


def due_items(at: float, limit: int = 100) -> list[WebhookItem]:
    """What is due at `at`, oldest first (one Query on the sparse index)."""
    return list(WebhookItem.by_due.query(DUE, WebhookItem.due_at <= int(at), limit=limit))


def process_due(limit: int = 100) -> list[Outcome]:
    """One pass over the queue: what is due now, each item processed once."""
    outcomes = []
    for item in due_items(now(), limit):
        try:
            outcomes.append(process_item(item))
        except Exception:
            logger.exception("webhook queue item failed", extra={"sk": item.sk})
    return outcomes


def pump(max_rounds: int = 10) -> list[Outcome]:
    """Drain the queue of what is due now (events fan out, their deliveries are attempted in
    the next round): the tests' and the local stack's stand-in for the stream and schedule."""
    outcomes: list[Outcome] = []
    for _ in range(max_rounds):
        done = process_due()
        if not done or all(outcome.kind == "skipped" for outcome in done):
            break
        outcomes += done
    return outcomes


def process_stream_event(event: dict[str, Any]) -> list[Outcome]:
    """A batch of the table's stream: each newly inserted event or delivery, processed now."""
    outcomes = []
    for record in event.get("Records", []):
        if record.get("eventName") != "INSERT":
            continue
        keys = record.get("dynamodb", {}).get("Keys", {})
        pk, sk = keys.get("pk", {}).get("S"), keys.get("sk", {}).get("S")
        if not pk or not sk or not sk.startswith(("EVT#", DELIVERY_PREFIX)):
            continue
        model: type[WebhookItem] = EventModel if sk.startswith("EVT#") else DeliveryModel
        try:
            item = model.get(pk, sk, consistent_read=True)
        except DoesNotExist:
            continue
        if item.due is None:
            continue
        outcomes.append(process_item(item))
    return outcomes


# --- The delivery log and redelivery ---------------------------------------------------------


def list_deliveries(
    organization_id: str,
    endpoint_id: str,
    *,
    limit: int = cursors.DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[DeliveryModel]:
    """An endpoint's deliveries, newest first (NotFound for another organization's endpoint)."""
    endpoints.get_endpoint(organization_id, endpoint_id)
    binding = f"webhook-deliveries|{endpoint_id}"
    results = DeliveryModel.query(
        org_pk(organization_id),
        DeliveryModel.sk.startswith(f"{DELIVERY_PREFIX}{endpoint_id}#"),
        scan_index_forward=False,
        limit=limit,
        last_evaluated_key=cursors.decode(organization_id, binding, cursor),
    )
    items = list(results)
    return Page(items, cursors.encode(organization_id, binding, results.last_evaluated_key))


def get_delivery(organization_id: str, endpoint_id: str, delivery_id: str) -> DeliveryModel:
    endpoints.get_endpoint(organization_id, endpoint_id)
    if not DELIVERY_ID.fullmatch(delivery_id):
        raise NotFound()
    try:
        return DeliveryModel.get(
            org_pk(organization_id), delivery_sk(endpoint_id, delivery_id), consistent_read=True
        )
    except DoesNotExist:
        raise NotFound() from None


def redeliver(principal: Principal, endpoint_id: str, delivery_id: str) -> DeliveryModel:
    """Queue a new delivery of the same event (same body and event id, a new delivery id and
    a fresh retry window) to the same endpoint; audited. Sent off the request path."""
    org = principal.organization_id
    original = get_delivery(org, endpoint_id, delivery_id)
    endpoint = endpoints.get_endpoint(org, endpoint_id)
    if not endpoint.active:
        raise Conflict("The endpoint is not active; activate it first.")
    at = now()
    new_id = f"{int(at * 1000):012x}{secrets.token_hex(10)}"
    copy = _new_delivery(
        original.event_id,
        original.event_type,
        org,
        endpoint_id,
        original.body,
        delivery_id=new_id,
        at=at,
        redelivery_of=original.delivery_id,
    )
    entry = AuditEntry(
        organization_id=org,
        actor_id=principal.user_id,
        action="webhook.redeliver",
        target_type="webhook",
        target_id=endpoint_id,
        after={"deliveryId": new_id, "redeliveryOf": original.delivery_id},
    )
    transact(entry, lambda tx: tx.save(copy, condition=DeliveryModel.pk.does_not_exist()))
    return copy


def body_of(delivery: DeliveryModel) -> dict[str, Any]:
    """The delivery's JSON body (for tests and tools)."""
    result: dict[str, Any] = json.loads(delivery.body)
    return result
