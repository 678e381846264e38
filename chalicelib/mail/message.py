"""A rendered mail: one recipient, a subject, a plain-text body and a sanitized HTML body."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def header_safe(value: str) -> str:
    """A header value on one line: CR, LF and other control characters become spaces, so a
    value (a ticket subject) can never start a header of its own."""
    cleaned = "".join(" " if ord(char) < 32 or ord(char) == 127 else char for char in value)
    return " ".join(cleaned.split())


@dataclasses.dataclass(frozen=True)
class Message:
    """What `send` delivers. `kind` names the template (for metrics and logs, never the body).

    `message_id` replaces the generated Message-ID; `headers` adds headers (threading, Reply-To,
    List-Unsubscribe), each value made header-safe."""

    to: str
    subject: str
    text: str
    html: str
    kind: str
    message_id: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def to_mime(self, sender: str) -> bytes:
        """The message as MIME bytes: multipart/alternative, text first, HTML second."""
        mime = EmailMessage()
        mime["From"] = sender
        mime["To"] = self.to
        mime["Subject"] = header_safe(self.subject)
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = self.message_id or make_msgid(
            domain=sender.rpartition("@")[2].rstrip(">") or None
        )
        mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
        for name, value in self.headers:
            mime[name] = header_safe(value)
        mime.set_content(self.text)
        mime.add_alternative(self.html, subtype="html")
        return mime.as_bytes()
