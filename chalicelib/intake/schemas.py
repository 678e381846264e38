"""Response bodies of the quarantine review (`/api/admin/mail/quarantine`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.core.schemas import Out, UtcTimestamp

Verdict = str | None  # PASS, FAIL, GRAY, PROCESSING_FAILED, or None when SES gave none


class VerdictsOut(Out):
    """SES's verdicts on the message."""

    spf: Verdict
    dkim: Verdict
    dmarc: Verdict
    spam: Verdict
    virus: Verdict


class QuarantinedMailOut(Out):
    """One held message, for its organization's administrators: never its body."""

    id: str = Field(min_length=64, max_length=64)
    received_at: UtcTimestamp
    sender: str = Field(alias="from")  # the From address, shown to the tenant's admins only
    subject: str
    verdicts: VerdictsOut
    size: int
    reason: str  # the failed checks, comma-separated ("spam", "dkim,dmarc")


class ReleasedMailOut(Out):
    """What a released message became: a new ticket, or a comment on the ticket it replied to."""

    id: str
    status: Literal["TICKETED", "COMMENTED"]
    ticket_id: str
    comment_id: str | None
