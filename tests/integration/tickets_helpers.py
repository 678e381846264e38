"""Shared helpers for the ticket tests (plain functions, no state)."""

from __future__ import annotations

from typing import Any

from tests.factories import TestUser


def create(client: Any, user: TestUser, **fields: Any) -> dict[str, Any]:
    body = {"subject": "Printer on fire", "body": "It *burns*.", **fields}
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
