"""Reply addresses and Message-IDs: they name one organization's ticket and cannot be forged."""

from __future__ import annotations

from chalicelib.core import settings
from chalicelib.mail import addresses

TICKET = "0193a1b2c3d4" + "ab" * 10  # pragma: allowlist secret
OTHER = "0193a1b2c3d5" + "cd" * 10  # pragma: allowlist secret


def test_the_reply_address_threads_back_into_its_ticket_only() -> None:
    address = addresses.reply_address("acme", TICKET)
    local, _, domain = address.partition("@")
    assert domain == "acme.mail.deskguard.example" and len(local) <= 64
    assert local == local.lower()
    assert addresses.ticket_of_reply_address(address) == ("acme", TICKET)
    assert addresses.ticket_of_reply_address(f'"Support" <{address.upper()}>') == ("acme", TICKET)
    assert addresses.organization_of_address(address) == "acme"


def test_a_forged_or_moved_reply_address_is_refused() -> None:
    address = addresses.reply_address("acme", TICKET)
    tag = address.partition("@")[0][-20:]
    guessed = f"support+{OTHER}{tag}@acme.mail.deskguard.example"
    moved = address.replace("@acme.", "@globex.")
    flipped = address.replace(tag, ("0" if tag[0] != "0" else "1") + tag[1:])
    for forged in (guessed, moved, flipped, f"support+{TICKET}@acme.mail.deskguard.example"):
        assert addresses.ticket_of_reply_address(forged) is None
    elsewhere = address.replace("deskguard.example", "evil.example")
    assert addresses.ticket_of_reply_address(elsewhere) is None


def test_the_organization_is_named_by_the_receiving_domain() -> None:
    assert addresses.support_address("globex") == "support@globex.mail.deskguard.example"
    assert addresses.organization_of_address("Support@Globex.Mail.Deskguard.Example") == "globex"
    assert addresses.organization_of_address("sales@globex.mail.deskguard.example") is None
    assert addresses.organization_of_address("support@mail.deskguard.example") is None
    assert addresses.organization_of_address("support@a.b.mail.deskguard.example") is None
    assert addresses.organization_of_address("support@globex.example") is None


def test_message_ids_name_the_ticket_and_are_recognised_as_ours() -> None:
    root = addresses.thread_message_id("acme", TICKET)
    sent = addresses.new_message_id("acme", TICKET, "reply")
    assert sent != addresses.new_message_id("acme", TICKET, "reply")
    for message_id in (root, sent):
        assert addresses.ticket_of_message_id(message_id) == ("acme", TICKET)
        assert addresses.is_own_message_id(message_id)
    assert addresses.ticket_of_message_id(sent.replace(TICKET, OTHER)) is None
    assert addresses.ticket_of_message_id(sent.replace("@acme.", "@globex.")) is None
    assert addresses.ticket_of_message_id("<CAF=abc@mail.gmail.com>") is None
    assert not addresses.is_own_message_id("<CAF=abc@mail.gmail.com>")
    assert not addresses.is_own_message_id("<x@evilmail.deskguard.example>")


def test_the_mail_domain_is_a_setting() -> None:
    with settings.override(mail_domain="help.example.org"):
        address = addresses.reply_address("acme", TICKET)
        assert address.endswith("@acme.help.example.org")
        assert addresses.ticket_of_reply_address(address) == ("acme", TICKET)
    assert addresses.ticket_of_reply_address(address) is None
