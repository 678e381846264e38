"""`attachment.scanned`: every final verdict of the scanner is a webhook event, written in the
verdict's own transaction, delivered to the endpoints subscribed to it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.attachments import upload_and_scan
from tests.support.av import EICAR, pdf_bytes
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket
from tests.support.webhooks import local_receiver, pump, register

pytestmark = pytest.mark.usefixtures("scanner_settings")


def test_clean_and_infected_verdicts_are_delivered(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    with local_receiver() as receiver:
        register(client, org, receiver.url(), ["attachment.scanned"])
        clean = upload_and_scan(
            app, client, org.requester, ticket_id, "plan.pdf", "application/pdf", pdf_bytes()
        )
        infected = upload_and_scan(
            app, client, org.requester, ticket_id, "note.txt", "text/plain", EICAR
        )
        pump()
    by_id = {r.json()["data"]["id"]: r.json() for r in receiver.received}
    assert set(by_id) == {clean["id"], infected["id"]}
    assert {r.headers["x-deskguard-event"] for r in receiver.received} == {"attachment.scanned"}
    assert by_id[clean["id"]]["data"]["status"] == "CLEAN"
    assert by_id[clean["id"]]["data"]["contentType"] == "application/pdf"
    assert by_id[infected["id"]]["data"]["status"] == "INFECTED"
    for body in by_id.values():
        assert body["data"]["ticketId"] == ticket_id and body["organizationId"] == org.id
        assert body["data"]["rescan"] is False
