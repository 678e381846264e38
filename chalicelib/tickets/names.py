"""Display names for response bodies: who requested a ticket, who is assigned, who wrote.

A page's distinct user ids are resolved together (`identity.users.display_names`: one
BatchGetItem per 100 distinct ids, projected to the name), never one call per id, so a page
costs the same however many people the organization has. Names are read at response time, so a
renamed user shows under the new name everywhere at once. A requester sees the names of the
staff on their own tickets this way, without access to the directory.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from chalicelib.identity import users
from chalicelib.tickets.models import Comment, Ticket


def name_tickets(organization_id: str, tickets: Sequence[Ticket]) -> list[Ticket]:
    """The tickets with `requester_name` and `assignee_name` filled in."""
    names = users.display_names(
        organization_id, [t.requester_id for t in tickets] + [t.assignee_id for t in tickets]
    )
    return [
        dataclasses.replace(
            ticket,
            requester_name=names.get(ticket.requester_id),
            assignee_name=names.get(ticket.assignee_id) if ticket.assignee_id else None,
        )
        for ticket in tickets
    ]


def name_ticket(organization_id: str, ticket: Ticket) -> Ticket:
    return name_tickets(organization_id, [ticket])[0]


def name_comments(organization_id: str, comments: Sequence[Comment]) -> list[Comment]:
    """The comments with `author_name` filled in."""
    names = users.display_names(organization_id, [comment.author_id for comment in comments])
    return [
        dataclasses.replace(comment, author_name=names.get(comment.author_id))
        for comment in comments
    ]
