"""Attacks through inbound mail: forged reply addresses, cross-organization tokens, spoofed
senders, loops, and what the logs give away."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from chalicelib.intake.service import ingest
from chalicelib.mail.addresses import reply_address, support_address, thread_message_id
from chalicelib.tickets import repository
from chalicelib.tickets.models import CommentModel, ticket_pk
from tests.support import mail_corpus as corpus
from tests.support.logcheck import events_since, lines_since
from tests.support.orgs import TestOrg

CUSTOMER = "jane@customer.example"
STRANGER = "mallory@attacker.example"


@pytest.fixture
def two_orgs(make_org: Callable[..., TestOrg]) -> tuple[TestOrg, TestOrg]:
    return make_org(), make_org()


def _comments(org_id: str, ticket_id: str) -> list[CommentModel]:
    return [
        item
        for item in CommentModel.query(
            ticket_pk(org_id, ticket_id), CommentModel.sk.startswith("COMMENT#")
        )
        if isinstance(item, CommentModel)
    ]


def _ticket_of(org: TestOrg, sender: str = CUSTOMER) -> str:
    outcome = ingest(corpus.plain(sender, support_address(org.id)))
    assert outcome.ticket_id is not None
    return outcome.ticket_id


def test_a_reply_token_of_org_a_sent_to_org_b_does_nothing_to_a(
    two_orgs: tuple[TestOrg, TestOrg],
) -> None:
    a, b = two_orgs
    ticket_a = _ticket_of(a)
    genuine = reply_address(a.id, ticket_a)
    # The same local part (ticket id and tag of A) under B's domain.
    moved = genuine.split("@", 1)[0] + "@" + support_address(b.id).split("@", 1)[1]

    outcome = ingest(corpus.reply(CUSTOMER, moved, "Write into A!", ""))

    assert outcome.organization_id == b.id
    assert outcome.status == "TICKETED"  # a new ticket of B, for the sender
    assert _comments(a.id, ticket_a) == []


def test_a_genuine_reply_address_of_a_in_the_headers_of_mail_to_b_does_nothing_to_a(
    two_orgs: tuple[TestOrg, TestOrg],
) -> None:
    a, b = two_orgs
    ticket_a = _ticket_of(a)
    raw = corpus.reply(
        CUSTOMER,
        reply_address(a.id, ticket_a),
        "Write into A!",
        "",
        in_reply_to=thread_message_id(a.id, ticket_a),
    )

    # SES delivered it for B's address (the envelope recipient decides the organization).
    outcome = ingest(raw, recipients=[support_address(b.id)])

    assert (outcome.organization_id, outcome.status) == (b.id, "TICKETED")
    assert _comments(a.id, ticket_a) == []


def test_a_guessed_ticket_id_with_a_forged_tag_opens_a_new_ticket(
    two_orgs: tuple[TestOrg, TestOrg],
) -> None:
    a, _ = two_orgs
    ticket_a = _ticket_of(a)
    domain = support_address(a.id).split("@", 1)[1]
    forged = f"support+{ticket_a}{'0' * 20}@{domain}"

    outcome = ingest(corpus.reply(CUSTOMER, forged, "Guessed.", ""))

    assert outcome.status == "TICKETED"
    assert outcome.ticket_id != ticket_a
    assert _comments(a.id, ticket_a) == []


def test_a_stranger_replying_to_the_reply_address_cannot_comment(
    two_orgs: tuple[TestOrg, TestOrg], log_mark: int
) -> None:
    a, _ = two_orgs
    ticket_a = _ticket_of(a)

    outcome = ingest(corpus.reply(STRANGER, reply_address(a.id, ticket_a), "Pay here.", ""))

    assert (outcome.status, outcome.reason) == ("TICKETED", "not-a-participant")
    assert outcome.ticket_id != ticket_a
    assert _comments(a.id, ticket_a) == []
    new = repository.get_ticket(a.id, str(outcome.ticket_id))
    original = repository.get_ticket(a.id, ticket_a)
    assert new is not None and original is not None
    assert new.requester_id != original.requester_id
    (event,) = events_since(log_mark, "security.suspicious_activity")
    assert (event["reason"], event["ticket_id"]) == ("mail_reply_not_participant", ticket_a)


def test_another_requester_of_the_same_org_cannot_comment_by_mail(
    two_orgs: tuple[TestOrg, TestOrg],
) -> None:
    a, _ = two_orgs
    ticket_a = _ticket_of(a)

    ingest(corpus.reply(a.requester.email, reply_address(a.id, ticket_a), "Mine now.", ""))

    assert _comments(a.id, ticket_a) == []


def test_a_spoofed_requester_with_failing_dkim_is_quarantined(
    two_orgs: tuple[TestOrg, TestOrg], log_mark: int
) -> None:
    a, _ = two_orgs
    ticket_a = _ticket_of(a)
    raw = corpus.plain(
        CUSTOMER,
        reply_address(a.id, ticket_a),
        "Change my bank account.\n",
        headers={"X-SES-DKIM-Verdict": "FAIL", "X-SES-DMARC-Verdict": "FAIL"},
    )

    outcome = ingest(raw)

    assert (outcome.status, outcome.reason) == ("QUARANTINED", "dkim,dmarc")
    assert _comments(a.id, ticket_a) == []
    (event,) = events_since(log_mark, "security.suspicious_activity")
    assert (event["reason"], event["kind"]) == ("mail_quarantined", "dkim,dmarc")


def test_two_autoresponders_cannot_loop_through_a_ticket(
    two_orgs: tuple[TestOrg, TestOrg],
) -> None:
    a, _ = two_orgs
    ticket_a = _ticket_of(a)
    # Our own notification bounced back verbatim (its Message-ID is ours).
    loop = corpus.plain(
        CUSTOMER,
        reply_address(a.id, ticket_a),
        msg_id=thread_message_id(a.id, ticket_a),
    )
    auto = corpus.plain(
        CUSTOMER, reply_address(a.id, ticket_a), headers={"Auto-Submitted": "auto-replied"}
    )

    assert [ingest(loop).status, ingest(auto).status] == ["IGNORED", "IGNORED"]
    assert _comments(a.id, ticket_a) == []


def test_logs_carry_no_address_and_no_body(
    two_orgs: tuple[TestOrg, TestOrg], log_mark: int
) -> None:
    a, _ = two_orgs
    unique_body = "my-unique-body-text-7f3a"
    ticket_a = _ticket_of(a)
    ingest(corpus.plain(CUSTOMER, support_address(a.id), unique_body + "\n"))
    ingest(corpus.reply(STRANGER, reply_address(a.id, ticket_a), unique_body, ""))
    ingest(corpus.plain(CUSTOMER, support_address(a.id), headers={"X-SES-Spam-Verdict": "FAIL"}))
    ingest(corpus.plain(CUSTOMER, "support@nobody-here.mail.deskguard.example"))

    lines = lines_since(log_mark)
    assert any(json.loads(line).get("mail_outcome") for line in lines)
    text = "\n".join(lines).lower()
    for needle in (CUSTOMER, STRANGER, "nobody-here", unique_body, "printer on fire"):
        assert needle not in text
