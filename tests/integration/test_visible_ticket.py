"""`get_visible_ticket`: the one ticket visibility rule, which attachments build on too."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.authz.principal import Principal
from chalicelib.core.errors import NotFound
from chalicelib.tickets.models import TicketModel, new_id
from chalicelib.tickets.service import get_visible_ticket
from tests.factories import TestOrg, TestUser


def _principal(user: TestUser) -> Principal:
    return Principal(user.id, user.organization_id, user.role)


def _ticket(org: TestOrg, requester: TestUser) -> TicketModel:
    item = TicketModel.new(
        org.id,
        requester_id=requester.id,
        subject="Printer on fire",
        body_markdown="It *burns*.",
        body_html="<p>It <em>burns</em>.</p>",
        now="2025-01-01T00:00:00.000+00:00",
    )
    item.save()
    return item


def test_visibility(make_org: Callable[..., TestOrg]) -> None:
    org, other_org = make_org(), make_org()
    item = _ticket(org, org.requester)
    other_requester = org.factory.user(org.id, org.requester.role)

    for user in (org.requester, org.agent, org.admin):
        ticket = get_visible_ticket(_principal(user), item.ticket_id)
        assert (ticket.id, ticket.organization_id) == (item.ticket_id, org.id)
        assert ticket.requester_id == org.requester.id
        assert ticket.status == "OPEN" and ticket.assignee_id is None

    hidden = [
        (other_requester, item.ticket_id),  # same org, someone else's ticket
        (other_org.agent, item.ticket_id),  # another organization's staff
        (other_org.admin, item.ticket_id),
        (org.agent, new_id()),  # missing
        (org.agent, "../" + item.ticket_id),  # malformed
        (org.agent, item.ticket_id.upper()),
    ]
    for user, ticket_id in hidden:
        with pytest.raises(NotFound):
            get_visible_ticket(_principal(user), ticket_id)
