"""Webhook test helpers: the local receiver, the local stage, registering an endpoint, pumping."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.core.settings import override
from chalicelib.webhooks import delivery
from devstack.webhook_receiver import Receiver, running
from tests.support.orgs import TestOrg

ALL_EVENTS = [
    "ticket.created",
    "ticket.updated",
    "comment.created",
    "attachment.scanned",
    "ticket.sla_breached",
]


@contextmanager
def local_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.1 and the `local` stage (the only one that may deliver to it)."""
    with override(stage="local"), running() as receiver:
        yield receiver


def register(
    client: Any, org: TestOrg, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    """An endpoint registered through the API; its JSON (with the secret, shown once)."""
    response = client.post(
        "/api/admin/webhooks",
        json={"url": url, "events": events or ALL_EVENTS},
        token=org.admin.token,
    )
    assert response.status == 201, response.body
    created: dict[str, Any] = response.json
    return created


def deliveries(client: Any, org: TestOrg, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/admin/webhooks/{webhook_id}/deliveries", token=org.admin.token)
    assert response.status == 200, response.body
    items: list[dict[str, Any]] = response.json["items"]
    return items


def pump() -> list[delivery.Outcome]:
    return delivery.pump()
