"""A rendered mail: one recipient, a subject, a plain-text body and a sanitized HTML body."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


@dataclasses.dataclass(frozen=True)
class Message:
    """What `send` delivers. `kind` names the template (for metrics and logs, never the body)."""

    to: str
    subject: str
    text: str
    html: str
    kind: str

    def to_mime(self, sender: str) -> bytes:
        """The message as MIME bytes: multipart/alternative, text first, HTML second."""
        mime = EmailMessage()
        mime["From"] = sender
        mime["To"] = self.to
        mime["Subject"] = self.subject
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].rstrip(">") or None)
        mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
        mime.set_content(self.text)
        mime.add_alternative(self.html, subtype="html")
        return mime.as_bytes()
