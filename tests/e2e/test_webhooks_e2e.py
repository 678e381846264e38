"""Webhooks on `make run`'s stack: an endpoint on a receiver of this test (127.0.0.1, allowed on
the local stage only) gets the signed `ticket.created` of a ticket filed over HTTP, delivered by
the stack's own pump, and the delivery shows in the log."""

from __future__ import annotations

import time
from typing import Any

import requests

from chalicelib.webhooks import signing
from devstack.webhook_receiver import running


def _login(url: str, local_stack: dict[str, Any], role: str) -> str:
    org = next(o for o in local_stack["credentials"]["organizations"] if o["id"] == "acme")
    user = next(u for u in org["users"] if u["role"] == role)
    body = {
        "organization": user["organization"],
        "email": user["email"],
        "password": user["password"],
    }
    response = requests.post(f"{url}/api/auth/login", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def test_a_ticket_filed_over_http_is_delivered_signed(local_stack: dict[str, Any]) -> None:
    url = local_stack["url"]
    admin = {"Authorization": f"Bearer {_login(url, local_stack, 'ADMIN')}"}
    requester = {"Authorization": f"Bearer {_login(url, local_stack, 'REQUESTER')}"}
    with running() as receiver:
        created = requests.post(
            f"{url}/api/admin/webhooks",
            json={"url": receiver.url("/e2e"), "events": ["ticket.created"]},
            headers=admin,
            timeout=10,
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        ticket = requests.post(
            f"{url}/api/tickets",
            json={"subject": "Webhook e2e", "body": "Delivered by the pump."},
            headers=requester,
            timeout=10,
        )
        assert ticket.status_code == 201
        deadline = time.monotonic() + 20
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            assert receiver.received, "no delivery within 20 s"
            got = receiver.received[0]
            assert got.path == "/e2e" and got.json()["data"]["id"] == ticket.json()["id"]
            assert signing.verify(got.headers["x-deskguard-signature"], got.body, hook["secret"])
            log = requests.get(
                f"{url}/api/admin/webhooks/{hook['id']}/deliveries", headers=admin, timeout=10
            )
            (entry,) = log.json()["items"]
            assert entry["status"] == "SUCCEEDED" and entry["attempts"] == 1
        finally:
            requests.delete(f"{url}/api/admin/webhooks/{hook['id']}", headers=admin, timeout=10)
