"""Ticket services: what a principal may see and do with tickets and comments.

Services take a `Principal` and plain data and return frozen dataclasses; they never see HTTP.
Visibility rule (one place): staff see every ticket of their organization, requesters only the
tickets they requested; anything else is `NotFound`, so existence never leaks.
"""

from __future__ import annotations

from chalicelib.authz.principal import Principal
from chalicelib.core.errors import NotFound
from chalicelib.tickets import repository
from chalicelib.tickets.models import Ticket, TicketModel, is_valid_id


def can_see(principal: Principal, item: TicketModel | Ticket) -> bool:
    """Staff see their organization's tickets; requesters only their own."""
    if item.organization_id != principal.organization_id:
        return False
    return principal.is_staff or item.requester_id == principal.user_id


def get_visible_ticket(principal: Principal, ticket_id: str) -> Ticket:
    """The ticket if the principal may see it; NotFound when the id is malformed, missing, in
    another organization, or a requester's view of someone else's ticket."""
    if not is_valid_id(ticket_id):
        raise NotFound()
    item = repository.get_ticket(principal.organization_id, ticket_id)
    if item is None or not can_see(principal, item):
        raise NotFound()
    return Ticket.from_model(item)
