"""Inbound messages the tests build with `email.message.EmailMessage`, one builder per shape.

Each returns the raw bytes SES would store. Addresses are arguments, so a test decides who
writes to which organization; nothing here is a real mailbox.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def message_id() -> str:
    return f"<{secrets.token_hex(8)}@customer.example>"


def base(
    sender: str,
    to: str,
    subject: str = "Printer on fire",
    *,
    msg_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    msg["Message-ID"] = msg_id or message_id()
    for name, value in (headers or {}).items():
        msg[name] = value
    return msg


def plain(sender: str, to: str, body: str = "The printer is on fire.\n", **kw: object) -> bytes:
    msg = base(sender, to, **kw)  # type: ignore[arg-type]
    msg.set_content(body)
    return msg.as_bytes()


def alternative(sender: str, to: str, text: str, markup: str, **kw: object) -> bytes:
    msg = base(sender, to, **kw)  # type: ignore[arg-type]
    msg.set_content(text)
    msg.add_alternative(markup, subtype="html")
    return msg.as_bytes()


def html_only(sender: str, to: str, markup: str, **kw: object) -> bytes:
    msg = base(sender, to, **kw)  # type: ignore[arg-type]
    msg.set_content(markup, subtype="html")
    return msg.as_bytes()


def encoded(sender: str, to: str, body: str, *, charset: str, cte: str, **kw: object) -> bytes:
    """A text/plain body in `charset` with transfer encoding `cte` (base64, quoted-printable)."""
    msg = base(sender, to, **kw)  # type: ignore[arg-type]
    msg.set_content(body.encode(charset), maintype="text", subtype="plain", cte=cte)
    msg.set_param("charset", charset)
    return msg.as_bytes()


def reply(
    sender: str, to: str, new_text: str, quoted: str, *, in_reply_to: str | None = None
) -> bytes:
    """A reply whose body is `new_text` followed by a client's quote block `quoted`."""
    headers = {"In-Reply-To": in_reply_to, "References": in_reply_to} if in_reply_to else {}
    msg = base(sender, to, "Re: Printer on fire", headers=headers)
    msg.set_content(f"{new_text}\n\n{quoted}")
    return msg.as_bytes()


GMAIL_QUOTE = (
    "On Tue, Dec 1, 2026 at 9:30 AM Deskguard Support <support@acme.example> wrote:\n"
    "> We are looking into it.\n> Regards\n"
)
OUTLOOK_QUOTE = (
    "________________________________\n"
    "From: Deskguard Support <support@acme.example>\n"
    "Sent: Tuesday, December 1, 2026 9:30 AM\nTo: Customer\nSubject: Printer on fire\n\n"
    "We are looking into it.\n"
)
OUTLOOK_ORIGINAL = (
    "-----Original Message-----\nFrom: Deskguard Support\nSent: Tuesday\n\nWe are looking.\n"
)
APPLE_QUOTE = (
    "> On 1 Dec 2026, at 09:30, Deskguard Support <support@acme.example> wrote:\n"
    ">\n> We are looking into it.\n"
)
SIGNATURE = "-- \nJane Customer\nACME Corp, 555-0100\n"


def with_files(
    sender: str, to: str, files: list[tuple[str, str, bytes]], *, inline_png: bool = False
) -> bytes:
    """text/plain plus one attachment per (filename, content type, bytes)."""
    msg = base(sender, to)
    msg.set_content("See the attached files.\n")
    if inline_png:
        msg.add_related(PNG, maintype="image", subtype="png", cid="<logo@customer.example>")
    for name, ctype, data in files:
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def forwarded(sender: str, to: str) -> bytes:
    msg = base(sender, to, "Fwd: Invoice")
    msg.set_content(
        "Please look at this one.\n\n---------- Forwarded message ---------\n"
        "From: Billing <billing@vendor.example>\nSubject: Invoice\n\nYour invoice is due.\n"
    )
    return msg.as_bytes()
