"""The mail Deskguard sends, as plain text and sanitized HTML.

Values (names, organization names) are escaped before they enter the HTML, and the HTML is then
cleaned by nh3 with a small allow-list (paragraphs, emphasis, links with http(s) targets), so a
display name such as `<img onerror=...>` arrives as text. Links carry the one-time token in the
URL fragment (`#token=`): browsers never send a fragment to a server, so the token stays out of
web-server logs and `Referer` headers of the page it opens.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from chalicelib.core.settings import get_settings
from chalicelib.mail.message import Message

_TAGS = {"p", "a", "strong", "br"}
# A ticket's or a reply's rendered Markdown keeps its emphasis, lists, quotes and code.
_CONTENT_TAGS = _TAGS | {"em", "ul", "ol", "li", "blockquote", "code", "pre"}
_ATTRIBUTES = {"a": {"href"}}


def _clean(markup: str, tags: set[str] = _TAGS) -> str:
    import nh3  # lazy: only mail-sending requests pay for it at cold start

    return nh3.clean(
        markup,
        tags=tags,
        attributes=_ATTRIBUTES,
        url_schemes={"https", "http"},
        link_rel="noopener noreferrer",
    )


def app_link(page: str, token: str) -> str:
    """A link to a page of the app with a one-time token in the fragment."""
    return f"{get_settings().public_app_url}/{page}#token={quote(token, safe='')}"


def _hours(seconds: int) -> str:
    if seconds < 3600:
        minutes = max(1, seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = seconds // 3600
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _html(paragraphs: list[str], link: str, label: str) -> str:
    body = "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
    anchor = f'<p><a href="{html.escape(link, quote=True)}">{html.escape(label)}</a></p>'
    return _clean(body + anchor)


def invitation(
    *, to: str, name: str, organization_name: str, token: str, ttl_seconds: int
) -> Message:
    """The invitation a new user receives: a link to choose their password."""
    link = app_link("password/setup", token)
    valid = _hours(ttl_seconds)
    text = (
        f"Hello {name},\n\n"
        f"You have been invited to the {organization_name} helpdesk on Deskguard.\n"
        f"Choose your password here (the link works once, for {valid}):\n\n"
        f"{link}\n\n"
        "If you did not expect this invitation, ignore this message.\n"
    )
    markup = _html(
        [
            f"Hello {html.escape(name)},",
            "You have been invited to the <strong>"
            f"{html.escape(organization_name)}</strong> helpdesk on Deskguard.",
            f"Choose your password with the link below. It works once, for {valid}.",
        ],
        link,
        "Choose your password",
    )
    return Message(
        to=to,
        subject=f"Your invitation to the {organization_name} helpdesk",
        text=text,
        html=markup,
        kind="invitation",
    )


def password_reset(
    *, to: str, name: str, organization_name: str, token: str, ttl_seconds: int
) -> Message:
    """The password-reset mail: a link to set a new password."""
    link = app_link("password/reset", token)
    valid = _hours(ttl_seconds)
    text = (
        f"Hello {name},\n\n"
        f"Someone asked to reset your password for the {organization_name} helpdesk.\n"
        f"Set a new password here (the link works once, for {valid}):\n\n"
        f"{link}\n\n"
        "If you did not ask for this, ignore this message: your password stays as it is.\n"
    )
    markup = _html(
        [
            f"Hello {html.escape(name)},",
            "Someone asked to reset your password for the <strong>"
            f"{html.escape(organization_name)}</strong> helpdesk.",
            f"Set a new password with the link below. It works once, for {valid}.",
            "If you did not ask for this, ignore this message: your password stays as it is.",
        ],
        link,
        "Set a new password",
    )
    return Message(
        to=to,
        subject=f"Reset your {organization_name} helpdesk password",
        text=text,
        html=markup,
        kind="password_reset",
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def ticket_notification(
    *,
    to: str,
    kind: str,
    subject: str,
    headline: str,
    body_text: str,
    body_html: str,
    ticket_link: str,
    unsubscribe_link: str,
) -> Message:
    """A notification about a ticket: a headline, the content (a ticket's or a reply's body:
    Markdown source for the text part, its rendered HTML, cleaned again, for the HTML part), a
    link to the ticket and the unsubscribe link. Headers are the caller's (`Message.headers`)."""
    text = (
        f"{headline}\n\n"
        f"{body_text.strip()}\n\n"
        f"Open the ticket: {ticket_link}\n"
        "Reply to this message to answer on the ticket.\n\n"
        f"Stop these notifications: {unsubscribe_link}\n"
    )
    markup = _clean(
        f"<p><strong>{html.escape(headline)}</strong></p>"
        f"<div>{body_html}</div>"
        f'<p><a href="{html.escape(ticket_link, quote=True)}">Open the ticket</a></p>'
        "<p>Reply to this message to answer on the ticket.</p>"
        f'<p><a href="{html.escape(unsubscribe_link, quote=True)}">Stop these notifications</a>'
        "</p>",
        _CONTENT_TAGS,
    )
    return Message(
        to=to,
        subject=_clip(subject, 200),
        text=text,
        html=markup,
        kind=kind,
    )
