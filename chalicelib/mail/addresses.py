"""Mail addresses and Message-IDs that name an organization and a ticket, and cannot be forged.

Every organization receives mail at `support@<organization>.<MAIL_DOMAIN>`: the domain names the
organization, so an inbound message is routed by the address it was sent to and nothing else.
Each ticket has a reply address `support+<ticket id><tag>@<organization>.<MAIL_DOMAIN>`, and every
notification Deskguard sends about a ticket carries a Message-ID under the same domain that
embeds the ticket id and the same tag. The tag is 20 hex digits of a keyed hash (the service key,
purpose `mail-ticket`) over the organization and the ticket id, so only Deskguard can mint an
address or a Message-ID that threads into a ticket: a sender who guesses a ticket id still
cannot write into it, and an address of one organization never verifies under another's domain.

Everything is lower-case hexadecimal in the local part: some mail systems fold the case of local
parts, and a reply address must survive them. `support+` plus 32 + 20 digits is 60 characters,
within the 64 that RFC 5321 allows for a local part.
"""

from __future__ import annotations

import hmac
import re
import secrets
from email.utils import parseaddr

from chalicelib.core.keyed import keyed_digest
from chalicelib.core.settings import get_settings

MAILBOX = "support"
_TAG_HEX = 20
_ORG = r"[a-z0-9][a-z0-9-]{1,38}[a-z0-9]"
_HEX32 = r"[0-9a-f]{32}"
_TAG = rf"[0-9a-f]{{{_TAG_HEX}}}"
_KIND = r"[a-z][a-z0-9-]{0,30}"


def organization_domain(organization_id: str) -> str:
    """The mail domain of one organization: `<organization>.<MAIL_DOMAIN>`."""
    return f"{organization_id}.{get_settings().mail_domain}"


def support_address(organization_id: str) -> str:
    """Where the organization's requesters write to open a ticket."""
    return f"{MAILBOX}@{organization_domain(organization_id)}"


def _tag(organization_id: str, ticket_id: str) -> str:
    return keyed_digest("mail-ticket", f"{organization_id}\x00{ticket_id}").hex()[:_TAG_HEX]


def _tag_ok(organization_id: str, ticket_id: str, tag: str) -> bool:
    return hmac.compare_digest(_tag(organization_id, ticket_id), tag)


def reply_address(organization_id: str, ticket_id: str) -> str:
    """The ticket's reply address (a reply to it threads into the ticket)."""
    tag = _tag(organization_id, ticket_id)
    return f"{MAILBOX}+{ticket_id}{tag}@{organization_domain(organization_id)}"


def _split(address: str) -> tuple[str, str] | None:
    """(local part, organization) of an address at `<organization>.<MAIL_DOMAIN>`, lower-cased."""
    _, bare = parseaddr(address)
    local, at, domain = bare.strip().lower().rpartition("@")
    suffix = "." + get_settings().mail_domain
    if not at or not local or not domain.endswith(suffix):
        return None
    organization = domain[: -len(suffix)]
    if re.fullmatch(_ORG, organization) is None:
        return None
    return local, organization


def organization_of_address(address: str) -> str | None:
    """The organization an address of ours belongs to (`support@` or a reply address), or None."""
    parts = _split(address)
    if parts is None:
        return None
    local, organization = parts
    if local != MAILBOX and not local.startswith(MAILBOX + "+"):
        return None
    return organization


def ticket_of_reply_address(address: str) -> tuple[str, str] | None:
    """(organization, ticket id) of a genuine reply address, or None (forged, foreign, other)."""
    parts = _split(address)
    if parts is None:
        return None
    local, organization = parts
    match = re.fullmatch(rf"{MAILBOX}\+({_HEX32})({_TAG})", local)
    if match is None or not _tag_ok(organization, match.group(1), match.group(2)):
        return None
    return organization, match.group(1)


def thread_message_id(organization_id: str, ticket_id: str) -> str:
    """The ticket's root Message-ID: every notification about the ticket refers to it, so mail
    clients show one thread per ticket."""
    tag = _tag(organization_id, ticket_id)
    return f"<ticket.{ticket_id}.{tag}@{organization_domain(organization_id)}>"


def new_message_id(organization_id: str, ticket_id: str, kind: str) -> str:
    """A fresh Message-ID for one notification about the ticket (`kind`: a lower-case word)."""
    if re.fullmatch(_KIND, kind) is None:
        raise ValueError(f"not a message kind: {kind!r}")
    tag = _tag(organization_id, ticket_id)
    unique = secrets.token_hex(8)
    return f"<{kind}.{ticket_id}.{tag}.{unique}@{organization_domain(organization_id)}>"


def ticket_of_message_id(message_id: str) -> tuple[str, str] | None:
    """(organization, ticket id) of a Message-ID Deskguard minted for a ticket, or None."""
    inner = message_id.strip().lower().removeprefix("<").removesuffix(">")
    local, at, domain = inner.rpartition("@")
    suffix = "." + get_settings().mail_domain
    if not at or not domain.endswith(suffix):
        return None
    organization = domain[: -len(suffix)]
    match = re.fullmatch(rf"{_KIND}\.({_HEX32})\.({_TAG})(?:\.[0-9a-f]{{16}})?", local)
    if re.fullmatch(_ORG, organization) is None or match is None:
        return None
    if not _tag_ok(organization, match.group(1), match.group(2)):
        return None
    return organization, match.group(1)


def is_own_message_id(message_id: str) -> bool:
    """True for any Message-ID under MAIL_DOMAIN: a message we sent, coming back (a loop)."""
    inner = message_id.strip().lower().removeprefix("<").removesuffix(">")
    domain = inner.rpartition("@")[2]
    mail_domain = get_settings().mail_domain
    return domain == mail_domain or domain.endswith("." + mail_domain)
