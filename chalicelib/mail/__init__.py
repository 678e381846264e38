"""Mail: the one way Deskguard sends e-mail (invitations, password resets).

`send(message)` hands a rendered `Message` (plain text and sanitized HTML) to SES through the
v2 API. Templates live in `templates`. Nothing here logs a recipient address or a body.
"""

from chalicelib.mail.message import Message
from chalicelib.mail.sender import send

__all__ = ["Message", "send"]
