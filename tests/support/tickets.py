"""Tickets for the tests: one factory (`create_ticket`, through the API as a user files one), the
ticket and comment steps of the API tests, and an item builder for seeding many tickets at once."""

from __future__ import annotations

from typing import Any

from chalicelib.tickets.models import TicketModel
from tests.support.orgs import TestUser

SUBJECT = "Printer on fire"
BODY = "It *burns*."


def create_ticket(client: Any, user: TestUser, **fields: Any) -> dict[str, Any]:
    """The ticket factory: a ticket filed by `user` through `POST /api/tickets` (stored, indexed
    and audited like any other); its JSON representation."""
    body = {"subject": SUBJECT, "body": BODY, **fields}
    response = client.post("/api/tickets", json=body, token=user.token)
    assert response.status == 201, response.body
    ticket: dict[str, Any] = response.json
    return ticket


def patch(client: Any, user: TestUser, ticket: dict[str, Any], version: Any = None, **fields: Any):  # type: ignore[no-untyped-def]
    return client.patch(
        f"/api/tickets/{ticket['id']}",
        json=fields,
        token=user.token,
        headers={"If-Match": str(ticket["version"] if version is None else version)},
    )


def comment(client: Any, user: TestUser, ticket_id: str, body: str, internal: bool = False):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/tickets/{ticket_id}/comments",
        json={"body": body, "internal": internal},
        token=user.token,
    )


def ticket_item(
    organization_id: str, requester_id: str, *, subject: str = SUBJECT, **fields: Any
) -> TicketModel:
    """An OPEN ticket item (not saved), for writing many through the repository's batch writer."""
    return TicketModel.new(
        organization_id,
        requester_id=requester_id,
        subject=subject,
        body_markdown=fields.pop("body_markdown", "seeded"),
        body_html=fields.pop("body_html", "<p>seeded</p>"),
        now=fields.pop("now", "2025-01-01T00:00:00.000+00:00"),
        **fields,
    )
