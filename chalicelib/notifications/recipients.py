"""Who is told about a ticket event: one `Notice` per recipient, decided from the event alone
plus the organization's users (nobody outside the event's organization can be named: every
lookup is keyed by it).

- `ticket.created`: the organization's active agents and admins, or, when the ticket names a
  group (`groupId`) that still exists, that group's members; never the
  person who opened it.
- `comment.created`, public reply by staff: the requester. Internal notes: nobody, ever.
- `comment.created`, reply by the requester: the assignee, or when the ticket has none, its
  group's members (every agent and admin for an ungrouped ticket).
- `ticket.updated` that changed the assignee: the new assignee, unless they assigned themself.

The author of a change is never told about it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from chalicelib.authz.principal import STAFF_ROLES
from chalicelib.core.errors import NotFound
from chalicelib.identity import notification_preferences as prefs
from chalicelib.identity import users
from chalicelib.tickets import groups, repository
from chalicelib.tickets.models import TicketModel, is_valid_id
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel


@dataclasses.dataclass(frozen=True)
class Notice:
    """One mail to send: `kind` is a preference kind (`notification_preferences.KINDS`)."""

    organization_id: str
    user_id: str
    kind: str
    ticket_id: str
    event_id: str
    comment_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Notice:
        values = json.loads(raw)
        return cls(
            organization_id=str(values["organization_id"]),
            user_id=str(values["user_id"]),
            kind=str(values["kind"]),
            ticket_id=str(values["ticket_id"]),
            event_id=str(values["event_id"]),
            comment_id=None if values.get("comment_id") is None else str(values["comment_id"]),
        )


def _staff_ids(organization_id: str) -> list[str]:
    """The organization's active agents and admins: the directory's entries of those two roles
    (one Query per role and page), never the requesters."""
    found: list[str] = []
    for role in sorted(STAFF_ROLES):
        cursor: str | None = None
        while True:
            page = users.list_directory(
                organization_id, role=role, limit=100, cursor=cursor, binding="notifications"
            )
            found += [user.id for user in page.items if user.active]
            cursor = page.next_cursor
            if cursor is None:
                break
    return found


def _group_or_staff(organization_id: str, group_id: Any) -> list[str]:
    """A grouped ticket is announced to its group's members (who are staff by construction),
    an ungrouped one, or one whose group is gone, to every agent and admin."""
    if isinstance(group_id, str) and group_id:
        try:
            group = groups.get_group(organization_id, group_id)
        except NotFound:
            return _staff_ids(organization_id)
        return list(dict.fromkeys(group.member_ids or []))
    return _staff_ids(organization_id)


def _is_staff(organization_id: str, user_id: str) -> bool:
    try:
        return users.get_user(organization_id, user_id).role in STAFF_ROLES
    except NotFound:
        return False


def _ticket_of(organization_id: str, ticket_id: str) -> TicketModel | None:
    """The ticket as it is now (its requester and assignee), or None."""
    if not is_valid_id(ticket_id):
        return None
    return repository.get_ticket(organization_id, ticket_id)


@dataclasses.dataclass(frozen=True)
class _Event:
    organization_id: str
    event_id: str
    data: dict[str, Any]

    def notices(
        self,
        user_ids: Iterable[str | None],
        kind: str,
        ticket_id: str,
        author: Any,
        comment_id: str | None = None,
    ) -> list[Notice]:
        """One notice per distinct user, never to the author of the change."""
        return [
            Notice(self.organization_id, user_id, kind, ticket_id, self.event_id, comment_id)
            for user_id in dict.fromkeys(user_ids)
            if user_id and user_id != author
        ]


def _ticket_created(event: _Event) -> list[Notice]:
    data = event.data
    staff = _group_or_staff(event.organization_id, data.get("groupId"))
    return event.notices(
        staff, prefs.TICKET_CREATED, str(data.get("id", "")), data.get("submitterId")
    )


def _comment_created(event: _Event) -> list[Notice]:
    data, org = event.data, event.organization_id
    if data.get("internal") is not False:
        return []  # internal notes (or an event without the flag) are never mailed
    ticket_id, author = str(data.get("ticketId", "")), data.get("authorId")
    ticket = _ticket_of(org, ticket_id)
    if ticket is None or not isinstance(author, str):
        return []
    comment_id = str(data.get("id", ""))
    if _is_staff(org, author):
        return event.notices(
            [ticket.requester_id], prefs.PUBLIC_REPLY, ticket_id, author, comment_id
        )
    targets = [ticket.assignee_id] if ticket.assignee_id else _group_or_staff(org, ticket.group_id)
    return event.notices(targets, prefs.REQUESTER_REPLY, ticket_id, author, comment_id)


def _ticket_updated(event: _Event) -> list[Notice]:
    data = event.data
    if "assigneeId" not in (data.get("changedFields") or []):
        return []
    assignee = data.get("assigneeId")
    if not isinstance(assignee, str) or assignee == data.get("previousAssigneeId"):
        return []
    return event.notices([assignee], prefs.ASSIGNED, str(data.get("id", "")), data.get("changedBy"))


_BY_TYPE = {
    webhook_events.TICKET_CREATED: _ticket_created,
    webhook_events.COMMENT_CREATED: _comment_created,
    webhook_events.TICKET_UPDATED: _ticket_updated,
}


def notices_for(event: EventModel) -> list[Notice]:
    """The notices one outbox event causes (empty for events that notify nobody)."""
    decide = _BY_TYPE.get(event.event_type)
    if decide is None:
        return []
    data = json.loads(event.body).get("data")
    if not isinstance(data, dict):
        return []
    return decide(_Event(event.organization_id, event.event_id, data))
