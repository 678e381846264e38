"""`get_visible_ticket`: the one ticket visibility rule, which attachments build on too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.authz.principal import Principal
from chalicelib.core.errors import NotFound
from chalicelib.tickets.models import new_id
from chalicelib.tickets.service import get_visible_ticket
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import create_ticket


def _principal(user: TestUser) -> Principal:
    return Principal(user.id, user.organization_id, user.role)


def test_visibility(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org, other_org = make_org(), make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    other_requester = org.factory.user(org.id, org.requester.role)

    for user in (org.requester, org.agent, org.admin):
        ticket = get_visible_ticket(_principal(user), ticket_id)
        assert (ticket.id, ticket.organization_id) == (ticket_id, org.id)
        assert ticket.requester_id == org.requester.id
        assert ticket.status == "OPEN" and ticket.assignee_id is None

    hidden = [
        (other_requester, ticket_id),  # same org, someone else's ticket
        (other_org.agent, ticket_id),  # another organization's staff
        (other_org.admin, ticket_id),
        (org.agent, new_id()),  # missing
        (org.agent, "../" + ticket_id),  # malformed
        (org.agent, ticket_id.upper()),
    ]
    for user, ticket_id in hidden:
        with pytest.raises(NotFound):
            get_visible_ticket(_principal(user), ticket_id)
