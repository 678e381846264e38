"""What an inbound message is before it may become a ticket: automatic mail, and SES's verdicts.

Automatic mail (auto-replies, bounces, mailing lists, our own notifications coming back) is
recorded and never ticketed or answered: answering it is how two auto-responders loop forever.
SES judges every message it receives (spam, virus, SPF, DKIM, DMARC); a message that fails one
of them is quarantined for an administrator instead of being ticketed, so a forged sender
cannot write into a customer's ticket.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from email.message import Message
from typing import Any

from chalicelib.intake.parse import header
from chalicelib.mail.addresses import is_own_message_id

VERDICTS = ("spam", "virus", "spf", "dkim", "dmarc")
_HEADER_OF = {
    "spam": "X-SES-Spam-Verdict",
    "virus": "X-SES-Virus-Verdict",
    "spf": "X-SES-SPF-Verdict",
    "dkim": "X-SES-DKIM-Verdict",
    "dmarc": "X-SES-DMARC-Verdict",
}
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def _header(message: Message, name: str) -> str:
    return header(message, name).strip()


def automatic_reason(  # noqa: PLR0911 (one return per kind of automatic mail)
    message: Message, sender: str, message_id: str | None
) -> str | None:
    """Why the message is automatic mail that must not be ticketed, or None."""
    auto = _header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return "auto-submitted"
    if _header(message, "Precedence").lower() in ("bulk", "junk", "list"):
        return "precedence"
    if _header(message, "X-Autoreply") or _header(message, "X-Autorespond"):
        return "auto-reply"
    if _header(message, "List-Id") or _header(message, "List-Unsubscribe"):
        return "mailing-list"
    if message_id and is_own_message_id(message_id):
        return "loop"
    if _header(message, "X-Deskguard-Loop"):
        return "loop"
    if (
        not sender
        or sender.startswith(_BOUNCE_SENDERS)
        or message.get_content_type() == ("multipart/report")
    ):
        return "bounce"
    return None


@dataclasses.dataclass(frozen=True)
class Verdicts:
    """SES's verdicts, each PASS, FAIL, GRAY, PROCESSING_FAILED or absent (None)."""

    spam: str | None = None
    virus: str | None = None
    spf: str | None = None
    dkim: str | None = None
    dmarc: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {name: value for name in VERDICTS if (value := getattr(self, name)) is not None}

    def sender_authenticated(self) -> bool:
        """DMARC passed: the From domain is the one SPF or DKIM authenticated (aligned)."""
        return self.dmarc == "PASS"

    def failed(self) -> list[str]:
        """The checks that failed (quarantine); GRAY and PROCESSING_FAILED do not count."""
        return [name for name, value in self.as_dict().items() if value == "FAIL"]


def _status(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("status")
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().upper()[:32]


def verdicts_of(message: Message, receipt: Mapping[str, Any] | None = None) -> Verdicts:
    """The verdicts of SES's receipt notification (`receipt.spamVerdict` ...) when given, else
    of the X-SES-* headers SES adds to the stored message."""
    found: dict[str, str | None] = {}
    for name in VERDICTS:
        value = _status(receipt.get(f"{name}Verdict")) if receipt else None
        found[name] = value or _status(_header(message, _HEADER_OF[name]))
    return Verdicts(**found)
