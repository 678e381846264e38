"""A notice rendered as a mail: the template (`chalicelib.mail.templates.ticket_notification`)
and the headers that make it a good citizen of the recipient's mailbox:

- `Message-ID`: fresh per mail, minted for the ticket (`addresses.new_message_id`);
- `In-Reply-To` and `References`: the ticket's root Message-ID, so clients show one thread;
- `Reply-To`: the ticket's keyed reply address (a reply threads into the ticket);
- `List-Unsubscribe` (the https one-click link and a `mailto:`) with
  `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058).

The subject carries the ticket's subject, made header-safe (`mail.message.header_safe`).
"""

from __future__ import annotations

import dataclasses

from chalicelib.core.settings import get_settings
from chalicelib.identity import notification_preferences as prefs
from chalicelib.identity.notification_preferences import Recipient
from chalicelib.mail import addresses, templates
from chalicelib.mail.message import Message, header_safe
from chalicelib.notifications import unsubscribe
from chalicelib.tickets.models import CommentModel, TicketModel

# Message-ID kinds (lower-case words) and the subject line of each notification kind.
_ID_KIND = {
    prefs.TICKET_CREATED: "new",
    prefs.PUBLIC_REPLY: "reply",
    prefs.REQUESTER_REPLY: "reply",
    prefs.ASSIGNED: "assigned",
}
_SUBJECT = {
    prefs.TICKET_CREATED: "[New ticket] {subject}",
    prefs.PUBLIC_REPLY: "Re: {subject}",
    prefs.REQUESTER_REPLY: "Re: {subject}",
    prefs.ASSIGNED: "[Assigned to you] {subject}",
}
_HEADLINE = {
    prefs.TICKET_CREATED: "A new ticket was opened.",
    prefs.PUBLIC_REPLY: "There is a new reply on your ticket.",
    prefs.REQUESTER_REPLY: "The requester replied on the ticket.",
    prefs.ASSIGNED: "This ticket was assigned to you.",
}


def ticket_link(ticket_id: str) -> str:
    return f"{get_settings().public_app_url}/tickets/{ticket_id}"


def render(
    kind: str, recipient: Recipient, ticket: TicketModel, comment: CommentModel | None
) -> Message:
    """The mail of one notice to one recipient."""
    org, ticket_id = ticket.organization_id, ticket.ticket_id
    content = comment if comment is not None else ticket
    unsubscribe_link = unsubscribe.unsubscribe_url(org, recipient.user_id, kind)
    message = templates.ticket_notification(
        to=recipient.email,
        kind=f"notification_{kind}",
        subject=_SUBJECT[kind].format(subject=header_safe(ticket.subject)),
        headline=_HEADLINE[kind],
        body_text=content.body_markdown or "",
        body_html=content.body_html or "",
        ticket_link=ticket_link(ticket_id),
        unsubscribe_link=unsubscribe_link,
    )
    thread = addresses.thread_message_id(org, ticket_id)
    mailto = unsubscribe.unsubscribe_mailto(org, recipient.user_id, kind)
    return dataclasses.replace(
        message,
        message_id=addresses.new_message_id(org, ticket_id, _ID_KIND[kind]),
        headers=(
            ("In-Reply-To", thread),
            ("References", thread),
            ("Reply-To", addresses.reply_address(org, ticket_id)),
            ("List-Unsubscribe", f"<{unsubscribe_link}>, <{mailto}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )
