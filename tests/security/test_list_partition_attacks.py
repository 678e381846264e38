"""A requester's ticket list reads only the requester's own index partition: other requesters'
tickets cannot shorten the requester's pages or move their cursors (which would reveal how many
tickets other customers have with an agent)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.tickets import repository
from chalicelib.tickets.models import new_id
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import ticket_item


def _assigned(org: TestOrg, requester: TestUser, count: int) -> list[str]:
    items = []
    for _ in range(count):
        ticket = ticket_item(org.id, requester.id, ticket_id=new_id())
        ticket.assignee_id = org.agent.id
        ticket.set_index_keys()
        ticket.version = 1
        items.append(ticket)
    repository.put_tickets(items)
    return [item.ticket_id for item in items]


def test_other_requesters_tickets_with_the_same_agent_do_not_shape_pages(
    client: Any, make_org: Callable[..., TestOrg], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small read budget stands in for thousands of other customers' tickets.
    monkeypatch.setattr(repository, "FILTERED_READ", 1)
    monkeypatch.setattr(repository, "MAX_QUERIES_PER_PAGE", 2)
    org = make_org()
    own = sorted(_assigned(org, org.requester, 2))  # ids sort by creation
    _assigned(org, org.add_user(org.requester.role), 6)  # newer, same agent

    response = client.get(
        f"/api/tickets?limit=1&assigneeId={org.agent.id}", token=org.requester.token
    )
    assert response.status == 200, response.body
    assert [item["id"] for item in response.json["items"]] == [own[-1]]
    second = client.get(
        f"/api/tickets?limit=1&assigneeId={org.agent.id}&cursor={response.json['nextCursor']}",
        token=org.requester.token,
    ).json
    assert [item["id"] for item in second["items"]] == [own[0]]
