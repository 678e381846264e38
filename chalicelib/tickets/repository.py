"""Data access for the tickets table. Every function takes the organization id first and builds it
into the key, so no call can reach another organization's items. No permission decisions here."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk


def get_ticket(organization_id: str, ticket_id: str) -> TicketModel | None:
    """The ticket item (one strongly consistent GetItem), or None."""
    try:
        return TicketModel.get(
            ticket_pk(organization_id, ticket_id), TICKET_SK, consistent_read=True
        )
    except DoesNotExist:
        return None
