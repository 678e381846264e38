"""The mail a user would receive: read back from moto's SES backend (what `mail.send` sent)."""

from __future__ import annotations

import dataclasses
import re
from email import message_from_string, policy
from email.message import EmailMessage

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.core.settings import get_settings
from tests.support.logcheck import register_sensitive

_TOKEN = re.compile(r"#token=([A-Za-z0-9_.%-]+)")


@dataclasses.dataclass(frozen=True)
class ReceivedMail:
    sender: str
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def token(self) -> str:
        """The one-time token of the mail's link (the same in the text and the HTML part)."""
        found = _TOKEN.findall(self.text)
        assert len(found) == 1, self.text
        assert _TOKEN.findall(self.html) == found
        return found[0]


def _parse(raw: str) -> ReceivedMail:
    mime = message_from_string(raw, policy=policy.default)
    assert isinstance(mime, EmailMessage)
    text = mime.get_body(preferencelist=("plain",))
    html = mime.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    mail = ReceivedMail(
        sender=str(mime["From"]),
        to=str(mime["To"]),
        subject=str(mime["Subject"]),
        text=text.get_content(),
        html=html.get_content(),
        headers={name: str(value) for name, value in mime.items()},
    )
    # The log audit fails the suite if a recipient or a link's token ever reaches a log line.
    register_sensitive(mail.to)
    for token in _TOKEN.findall(mail.text):
        register_sensitive(token)
    return mail


def sent_mail() -> list[ReceivedMail]:
    """Every message sent in this test's mocked account, oldest first."""
    backend = ses_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
    return [_parse(message.raw_data) for message in backend.sent_messages]


def inbox(address: str) -> list[ReceivedMail]:
    """The messages sent to one address, oldest first."""
    return [mail for mail in sent_mail() if mail.to == address]
