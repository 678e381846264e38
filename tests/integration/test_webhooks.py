"""Webhooks end to end in-process: registration, events from the services, signed deliveries to
a receiver on 127.0.0.1 (local stage), the delivery log, retries with backoff, final failure,
redelivery and secret rotation."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

import pytest

from chalicelib.core.org_keys import org_pk
from chalicelib.webhooks import delivery, signing
from chalicelib.webhooks.models import DeliveryModel, EndpointModel, EventModel
from tests.support.assertions import assert_error
from tests.support.tickets import comment, create_ticket, patch
from tests.support.webhooks import deliveries, local_receiver, pump, register


def _epoch(iso: str) -> float:
    """A body's ISO 8601 time as epoch seconds (the delivery clock's unit)."""
    return datetime.fromisoformat(iso).timestamp()


class MovableClock:
    """Real time plus an offset that a test moves forward (`clock.at = later`)."""

    def __init__(self) -> None:
        self.offset = 0.0

    @property
    def at(self) -> float:
        return time.time() + self.offset

    @at.setter
    def at(self, value: float) -> None:
        self.offset = value - time.time()

    def __call__(self) -> float:
        return self.at


@pytest.fixture
def delivery_clock(monkeypatch: pytest.MonkeyPatch) -> MovableClock:
    clock = MovableClock()
    monkeypatch.setattr(delivery, "now", clock)
    return clock


def test_create_shows_the_secret_once_and_listing_never(client: Any, make_org: Any) -> None:
    org = make_org()
    created = register(client, org, "https://hooks.example.com/deskguard", ["ticket.created"])
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(secret) > 40
    assert created["events"] == ["ticket.created"] and created["active"] is True

    listed = client.get("/api/admin/webhooks", token=org.admin.token)
    assert listed.status == 200
    assert [item["id"] for item in listed.json["items"]] == [created["id"]]
    one = client.get(f"/api/admin/webhooks/{created['id']}", token=org.admin.token)
    assert one.status == 200
    for body in (listed.body, one.body):
        assert secret.encode() not in body and b'"secret"' not in body

    changed = client.patch(
        f"/api/admin/webhooks/{created['id']}",
        json={"events": ["comment.created", "ticket.created"], "active": False},
        token=org.admin.token,
    )
    assert changed.status == 200
    assert changed.json["events"] == ["ticket.created", "comment.created"]
    assert changed.json["active"] is False

    gone = client.delete(f"/api/admin/webhooks/{created['id']}", token=org.admin.token)
    assert gone.status == 204
    again = client.get(f"/api/admin/webhooks/{created['id']}", token=org.admin.token)
    assert_error(again, 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "scheme"),
        ("ftp://hooks.example.com/x", "scheme"),
        ("https://user:pw@hooks.example.com/x", "credentials_in_url"),  # pragma: allowlist secret
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://10.1.2.3/x", "private"),
        ("https://[::1]/x", "loopback"),
        ("https://localhost/x", "loopback"),
        ("http://127.0.0.1:9000/x", "loopback"),  # not the local stage
    ],
)
def test_unsafe_targets_are_refused_at_registration(
    client: Any, make_org: Any, url: str, reason: str
) -> None:
    org = make_org()
    response = client.post(
        "/api/admin/webhooks",
        json={"url": url, "events": ["ticket.created"]},
        token=org.admin.token,
    )
    assert_error(response, 400, "VALIDATION_ERROR")
    assert response.json["error"]["details"] == [{"field": "url", "message": f"refused ({reason})"}]


def test_unknown_events_are_refused(client: Any, make_org: Any) -> None:
    org = make_org()
    response = client.post(
        "/api/admin/webhooks",
        json={"url": "https://hooks.example.com/x", "events": ["ticket.deleted"]},
        token=org.admin.token,
    )
    assert_error(response, 400, "VALIDATION_ERROR")


def test_changes_are_audited_without_the_secret(client: Any, make_org: Any) -> None:
    org = make_org()
    created = register(client, org, "https://hooks.example.com/a")
    rotated = client.post(f"/api/admin/webhooks/{created['id']}/rotate", token=org.admin.token)
    assert rotated.status == 201
    client.delete(f"/api/admin/webhooks/{created['id']}", token=org.admin.token)
    audit = client.get("/api/admin/audit?targetId=" + created["id"], token=org.admin.token)
    assert audit.status == 200, audit.body
    actions = {item["action"] for item in audit.json["items"]}
    assert {"webhook.create", "webhook.rotate_secret", "webhook.delete"} <= actions
    for secret in (created["secret"], rotated.json["secret"]):
        assert secret.encode() not in audit.body


def test_events_are_outbox_items_of_the_change_and_delivered_signed(
    client: Any, make_org: Any
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        ticket = create_ticket(client, org.requester)
        # Written with the ticket, not delivered yet (nothing is sent on the request path).
        events = list(EventModel.query(org_pk(org.id), EventModel.sk.startswith("EVT#")))
        assert [event.event_type for event in events] == ["ticket.created"]
        assert receiver.received == []

        pump()
        assert len(receiver.received) == 1
        got = receiver.received[0]
        body = got.json()
        assert set(body) == {"id", "type", "timestamp", "organizationId", "data"}
        assert body["type"] == "ticket.created" and body["organizationId"] == org.id
        assert body["id"] == events[0].event_id
        assert body["data"]["id"] == ticket["id"] and body["data"]["version"] == ticket["version"]
        assert got.headers["x-deskguard-event"] == "ticket.created"
        assert got.headers["content-type"] == "application/json"
        assert signing.verify(got.headers["x-deskguard-signature"], got.body, hook["secret"])
        assert not signing.verify(got.headers["x-deskguard-signature"], got.body, "whsec_other")

        log = deliveries(client, org, hook["id"])
        assert len(log) == 1 and log[0]["id"] == got.headers["x-deskguard-delivery"]
        assert log[0]["status"] == "SUCCEEDED" and log[0]["attempts"] == 1
        assert log[0]["responseStatus"] == 204 and log[0]["latencyMs"] >= 0
        assert log[0]["nextAttemptAt"] is None


def test_updates_and_comments_emit_their_events(client: Any, make_org: Any) -> None:
    org = make_org()
    with local_receiver() as receiver:
        register(client, org, receiver.url(), ["ticket.updated", "comment.created"])
        ticket = create_ticket(client, org.requester)
        assert patch(client, org.agent, ticket, priority="HIGH").status == 200
        assert comment(client, org.agent, ticket["id"], "On it.").status == 201
        bulk = client.post(
            "/api/tickets/bulk",
            json={"action": "set_status", "status": "PENDING", "ids": [ticket["id"]]},
            token=org.agent.token,
        )
        assert bulk.status == 200, bulk.body
        pump()
        bodies = sorted((r.json() for r in receiver.received), key=lambda b: b["id"])
        assert [b["type"] for b in bodies] == [
            "ticket.updated",
            "comment.created",
            "ticket.updated",
        ]
        assert bodies[0]["data"]["changedFields"] == ["priority"]
        assert bodies[0]["data"]["priority"] == "HIGH" and bodies[0]["data"]["version"] == 2
        assert bodies[1]["data"]["ticketId"] == ticket["id"]
        assert bodies[2]["data"]["status"] == "PENDING"
        assert bodies[2]["data"]["changedFields"] == ["status"]
        # Not subscribed: no ticket.created went out.
        assert all(r.headers["x-deskguard-event"] != "ticket.created" for r in receiver.received)


def test_inactive_endpoints_and_other_organizations_get_nothing(client: Any, make_org: Any) -> None:
    org, other = make_org(), make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        register(client, other, receiver.url("/other"))
        client.patch(
            f"/api/admin/webhooks/{hook['id']}", json={"active": False}, token=org.admin.token
        )
        create_ticket(client, org.requester)
        pump()
        assert receiver.received == []
        create_ticket(client, other.requester)
        pump()
        assert [r.path for r in receiver.received] == ["/other"]
        assert receiver.received[0].json()["organizationId"] == other.id


def test_a_failing_receiver_never_fails_the_api_call_and_is_retried_with_backoff(
    client: Any, make_org: Any, delivery_clock: MovableClock
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        receiver.default_status = 500
        receiver.response_body = b"x" * 5000
        hook = register(client, org, receiver.url())
        create_ticket(client, org.requester)  # 201 although the receiver fails
        pump()
        (first,) = deliveries(client, org, hook["id"])
        assert first["status"] == "PENDING" and first["attempts"] == 1
        assert first["responseStatus"] == 500 and first["error"] == "http_500"
        assert len(first["responsePrefix"]) == 256  # a prefix only
        start = delivery_clock.at
        assert start + 15 - 2 <= _epoch(first["nextAttemptAt"]) <= start + 30
        pump()  # not due yet: nothing is sent
        assert len(receiver.received) == 1

        delivery_clock.at = _epoch(first["nextAttemptAt"]) + 1
        pump()
        (second,) = deliveries(client, org, hook["id"])
        assert second["attempts"] == 2 and len(receiver.received) == 2
        assert (
            delivery_clock.at + 30 - 2 <= _epoch(second["nextAttemptAt"]) <= delivery_clock.at + 60
        )

        receiver.default_status = 200
        delivery_clock.at = _epoch(second["nextAttemptAt"]) + 1
        pump()
        (third,) = deliveries(client, org, hook["id"])
        assert third["status"] == "SUCCEEDED" and third["attempts"] == 3
        # Every attempt carried the same delivery id and body.
        assert len({r.headers["x-deskguard-delivery"] for r in receiver.received}) == 1
        assert len({r.body for r in receiver.received}) == 1


def test_retries_stop_after_the_window_and_the_delivery_is_failed(
    client: Any, make_org: Any, delivery_clock: MovableClock
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        receiver.default_status = 503
        hook = register(client, org, receiver.url())
        create_ticket(client, org.requester)
        start = delivery_clock.at
        for _ in range(60):
            pump()
            (current,) = deliveries(client, org, hook["id"])
            if current["status"] != "PENDING":
                break
            delivery_clock.at = _epoch(current["nextAttemptAt"]) + 1
        assert current["status"] == "FAILED" and current["nextAttemptAt"] is None
        # Retried for 24 hours (the last attempt inside the window), then no more.
        assert delivery_clock.at <= start + 86400 + 1
        assert 20 <= current["attempts"] <= 40
        assert len(receiver.received) == current["attempts"]
        stored = DeliveryModel.get(
            org_pk(org.id), f"DLV#{hook['id']}#{current['id']}", consistent_read=True
        )
        assert stored.due is None and len(stored.history) == 20
        delivery_clock.at += 7200
        pump()
        assert len(receiver.received) == current["attempts"]


def test_backoff_schedule_doubles_with_jitter_up_to_an_hour() -> None:
    for attempts, step in [(1, 30), (2, 60), (3, 120), (6, 960), (8, 3600), (30, 3600)]:
        for _ in range(50):
            delay = delivery.backoff_seconds(attempts)
            assert step / 2 <= delay <= step
    assert len({delivery.backoff_seconds(4) for _ in range(20)}) > 1  # jittered


def test_redeliver_sends_the_same_event_under_a_new_delivery_id(client: Any, make_org: Any) -> None:
    org = make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        create_ticket(client, org.requester)
        pump()
        (original,) = deliveries(client, org, hook["id"])
        response = client.post(
            f"/api/admin/webhooks/{hook['id']}/deliveries/{original['id']}/redeliver",
            token=org.admin.token,
        )
        assert response.status == 202, response.body
        queued = response.json
        assert queued["status"] == "PENDING" and queued["redeliveryOf"] == original["id"]
        assert queued["eventId"] == original["eventId"] and queued["id"] != original["id"]
        assert len(receiver.received) == 1  # queued, not sent on the request path
        pump()
        assert len(receiver.received) == 2
        first, second = receiver.received
        assert first.body == second.body
        assert second.headers["x-deskguard-delivery"] == queued["id"]
        log = deliveries(client, org, hook["id"])
        assert [item["id"] for item in log] == [queued["id"], original["id"]]  # newest first
        assert log[0]["status"] == "SUCCEEDED"
        audit = client.get("/api/admin/audit?targetId=" + hook["id"], token=org.admin.token)
        assert "webhook.redeliver" in {item["action"] for item in audit.json["items"]}


def test_rotation_signs_with_both_secrets_during_the_grace_period(
    client: Any, make_org: Any, delivery_clock: MovableClock
) -> None:
    org = make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        rotated = client.post(f"/api/admin/webhooks/{hook['id']}/rotate", token=org.admin.token)
        assert rotated.status == 201
        new_secret = rotated.json["secret"]
        assert new_secret != hook["secret"] and _epoch(rotated.json["previousSecretExpiresAt"])
        create_ticket(client, org.requester)
        pump()
        got = receiver.received[-1]
        header = got.headers["x-deskguard-signature"]
        assert header.count("v1=") == 2
        assert signing.verify(header, got.body, new_secret)
        assert signing.verify(header, got.body, hook["secret"])

        delivery_clock.at = _epoch(rotated.json["previousSecretExpiresAt"]) + 1
        create_ticket(client, org.requester)
        pump()
        late = receiver.received[-1]
        header = late.headers["x-deskguard-signature"]
        assert header.count("v1=") == 1
        assert signing.verify(header, late.body, new_secret, now=delivery_clock.at)
        assert not signing.verify(header, late.body, hook["secret"], now=delivery_clock.at)


def test_a_deleted_endpoint_ends_its_pending_deliveries(client: Any, make_org: Any) -> None:
    org = make_org()
    with local_receiver() as receiver:
        hook = register(client, org, receiver.url())
        create_ticket(client, org.requester)
        delivery.process_due()  # fan-out only: the delivery is made, not attempted
        client.delete(f"/api/admin/webhooks/{hook['id']}", token=org.admin.token)
        pump()
        assert receiver.received == []
        (stored,) = DeliveryModel.query(org_pk(org.id), DeliveryModel.sk.startswith("DLV#"))
        assert stored.status == "FAILED" and stored.error == "endpoint_deleted"


def test_the_stream_consumer_fans_out_and_delivers(client: Any, make_org: Any, app: Any) -> None:
    org = make_org()
    with local_receiver() as receiver:
        register(client, org, receiver.url())
        create_ticket(client, org.requester)
        (event,) = EventModel.query(org_pk(org.id), EventModel.sk.startswith("EVT#"))
        handler = app.handler_map["deliver_webhooks"]

        def record(sk: str) -> dict[str, Any]:
            keys = {"pk": {"S": org_pk(org.id)}, "sk": {"S": sk}}
            return {"eventName": "INSERT", "dynamodb": {"Keys": keys}}

        assert handler({"Records": [record(event.sk)]}, None) == {"fanned_out": 1}
        (made,) = DeliveryModel.query(org_pk(org.id), DeliveryModel.sk.startswith("DLV#"))
        assert handler({"Records": [record(made.sk)]}, None) == {"delivered": 1}
        assert len(receiver.received) == 1
        # A replayed stream record does nothing more.
        assert handler({"Records": [record(made.sk)]}, None) == {}
        assert len(receiver.received) == 1


def test_endpoints_per_organization_are_capped(client: Any, make_org: Any) -> None:
    from chalicelib.core.settings import override

    org = make_org()
    with override(webhook_max_endpoints=2):
        register(client, org, "https://a.example.com/x")
        register(client, org, "https://b.example.com/x")
        response = client.post(
            "/api/admin/webhooks",
            json={"url": "https://c.example.com/x", "events": ["ticket.created"]},
            token=org.admin.token,
        )
    assert_error(response, 409, "CONFLICT")
    assert len(list(EndpointModel.query(org_pk(org.id)))) == 2
    assert json.loads(response.body)["error"]["message"]
