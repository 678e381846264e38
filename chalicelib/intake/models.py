"""The record of every inbound message, in the tickets table (one partition per organization):

    pk = ORG#<org>#MAIL
    sk = MSG#<sha256 of the Message-ID>             one per message: the idempotency claim and
                                                    what became of the message
         Q#<received at>#<sha256 of the Message-ID> one per quarantined message, oldest first

The `MSG#` item is written with a condition that it does not exist yet, so the same message
delivered twice (SES retries, a replayed Message-ID) is ingested once. None of these items
carries an index key: they never appear in a ticket list or a search.
"""

from __future__ import annotations

import hashlib

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.core.org_keys import org_prefix
from chalicelib.tickets.models import TicketsItem

MESSAGE_PREFIX = "MSG#"
QUARANTINE_PREFIX = "Q#"


class MailStatus:
    PROCESSING = "PROCESSING"  # claimed, being ingested
    TICKETED = "TICKETED"  # a new ticket
    COMMENTED = "COMMENTED"  # a comment on an existing ticket
    IGNORED = "IGNORED"  # automatic mail, an inactive sender: recorded, nothing written
    QUARANTINED = "QUARANTINED"  # a failed SES verdict: kept for review
    RELEASED = "RELEASED"  # quarantined, then ticketed by an administrator
    DISCARDED = "DISCARDED"  # quarantined, then thrown away by an administrator


def mail_pk(organization_id: str) -> str:
    return f"{org_prefix(organization_id)}MAIL"


def message_hash(message_id: str) -> str:
    return hashlib.sha256(message_id.strip().encode("utf-8", "replace")).hexdigest()


class InboundMailModel(TicketsItem, discriminator="inbound_mail"):
    """`ORG#<org>#MAIL` / `MSG#<hash>`: one inbound message and what became of it."""

    organization_id = UnicodeAttribute()
    message_hash = UnicodeAttribute()
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)  # why it was ignored or quarantined (a short code)
    ticket_id = UnicodeAttribute(null=True)
    comment_id = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    verdicts = UnicodeAttribute(null=True)  # "spam=PASS dkim=FAIL ..."
    size = NumberAttribute(default=0)
    raw_bucket = UnicodeAttribute(null=True)  # where the raw message is kept
    raw_key = UnicodeAttribute(null=True)


class QuarantinedMailModel(TicketsItem, discriminator="quarantined_mail"):
    """`ORG#<org>#MAIL` / `Q#<received at>#<hash>`: a message held for an administrator."""

    organization_id = UnicodeAttribute()
    message_hash = UnicodeAttribute()
    received_at = UnicodeAttribute()
    reason = UnicodeAttribute()
    verdicts = UnicodeAttribute(null=True)
    sender = UnicodeAttribute()  # shown to administrators only, never logged
    subject = UnicodeAttribute()
    size = NumberAttribute(default=0)
    raw_bucket = UnicodeAttribute()
    raw_key = UnicodeAttribute()
