"""Attacks through inbound mail: forged reply addresses, cross-organization tokens, spoofed
senders, loops, and what the logs give away."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.authz.principal import Role
from chalicelib.core.settings import get_settings
from chalicelib.identity import users
from chalicelib.intake.models import (
    QUARANTINE_PREFIX,
    QuarantinedMailModel,
    mail_pk,
    message_hash,
)
from chalicelib.intake.service import ingest
from chalicelib.mail.addresses import reply_address, support_address, thread_message_id
from chalicelib.tickets import repository
from chalicelib.tickets.models import CommentModel, ticket_pk
from tests.support import mail_corpus as corpus
from tests.support.assertions import assert_error
from tests.support.logcheck import events_since, lines_since
from tests.support.orgs import TestOrg, mint_api_token

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


# --- The quarantine review --------------------------------------------------------------------

QUARANTINE = "/api/admin/mail/quarantine"


def _quarantined(org: TestOrg, body: str = "The printer is on fire.\n") -> str:
    msg_id = corpus.message_id()
    raw = corpus.plain(
        CUSTOMER,
        support_address(org.id),
        body,
        msg_id=msg_id,
        headers={"X-SES-DKIM-Verdict": "FAIL", "X-SES-DMARC-Verdict": "FAIL"},
    )
    assert ingest(raw).status == "QUARANTINED"
    return message_hash(msg_id)


def _still_held(org: TestOrg, mail_id: str) -> bool:
    """The `Q#` item is there and so is the stored message it names."""
    items = [
        item
        for item in QuarantinedMailModel.query(
            mail_pk(org.id), QuarantinedMailModel.sk.startswith(QUARANTINE_PREFIX)
        )
        if item.message_hash == mail_id
    ]
    if len(items) != 1:
        return False
    s3 = boto3.client("s3", region_name=get_settings().region)
    s3.head_object(Bucket=items[0].raw_bucket, Key=items[0].raw_key)
    return True


def test_another_organizations_admin_cannot_release_or_discard_its_quarantined_mail(
    client: Any, two_orgs: tuple[TestOrg, TestOrg]
) -> None:
    """A's message id sent by B's admin is the same 404 as an id that exists nowhere: nothing of
    A is ticketed, deleted or given away. An admin:mail API token cannot release or discard at
    all (session-only), so it learns nothing either."""
    a, b = two_orgs
    mail_id = _quarantined(a)
    unknown = "0" * 64
    b_token = mint_api_token(b.admin, ["admin:mail"])

    answers = []
    for url in (f"{QUARANTINE}/{mail_id}", f"{QUARANTINE}/{unknown}"):
        release = client.post(f"{url}/release", token=b.admin.token)
        discard = client.delete(url, token=b.admin.token)
        for response in (release, discard):
            assert_error(response, 404, "NOT_FOUND")
            assert mail_id not in response.body.decode() and a.id not in response.body.decode()
        answers.append((release.json, discard.json))
        for response in (
            client.post(f"{url}/release", token=b_token),
            client.delete(url, token=b_token),
        ):
            assert_error(response, 403, "FORBIDDEN")
            assert mail_id not in response.body.decode() and a.id not in response.body.decode()

    assert len({json.dumps(answer, sort_keys=True) for answer in answers}) == 1
    assert _still_held(a, mail_id)
    assert users.find_by_email(a.id, CUSTOMER) is None
    assert users.find_by_email(b.id, CUSTOMER) is None
    assert client.get(QUARANTINE, token=b.admin.token).json["items"] == []
    # A's admin still finds it where it was.
    assert [i["id"] for i in client.get(QUARANTINE, token=a.admin.token).json["items"]] == [mail_id]


def test_another_organizations_cursor_is_refused_on_the_quarantine_list(
    client: Any, two_orgs: tuple[TestOrg, TestOrg]
) -> None:
    a, b = two_orgs
    for _ in range(2):
        _quarantined(a)
    cursor = client.get(f"{QUARANTINE}?limit=1", token=a.admin.token).json["nextCursor"]
    assert cursor

    response = client.get(f"{QUARANTINE}?limit=1&cursor={cursor}", token=b.admin.token)

    assert_error(response, 400, "VALIDATION_ERROR")
    assert CUSTOMER not in response.body.decode()


@pytest.mark.parametrize("role", [Role.AGENT, Role.REQUESTER])
def test_agents_and_requesters_cannot_review_the_quarantine(
    client: Any, two_orgs: tuple[TestOrg, TestOrg], role: Role
) -> None:
    """Even with every scope on an API token: the quarantine holds senders' addresses and mail
    that failed authentication, for the organization's admins only."""
    org, _ = two_orgs
    mail_id = _quarantined(org)
    user = org.agent if role is Role.AGENT else org.requester
    everything = mint_api_token(
        user, ["admin:mail", "admin:users", "tickets:read", "tickets:write"]
    )

    for token in (user.token, everything):
        listed = client.get(QUARANTINE, token=token)
        released = client.post(f"{QUARANTINE}/{mail_id}/release", token=token)
        discarded = client.delete(f"{QUARANTINE}/{mail_id}", token=token)
        for response in (listed, released, discarded):
            assert_error(response, 403, "FORBIDDEN")
            assert CUSTOMER not in response.body.decode()

    assert _still_held(org, mail_id)
    assert users.find_by_email(org.id, CUSTOMER) is None


@pytest.mark.parametrize(
    "mail_id",
    ["..%2F..%2Fetc", "Q%232026-12-01T09%3A00%3A00.000%2B00%3A00", "A" * 64, "0" * 63, "0" * 65],
)
def test_malformed_quarantine_ids_are_a_plain_404(
    client: Any, two_orgs: tuple[TestOrg, TestOrg], mail_id: str
) -> None:
    org, _ = two_orgs
    held = _quarantined(org)

    assert_error(
        client.post(f"{QUARANTINE}/{mail_id}/release", token=org.admin.token), 404, "NOT_FOUND"
    )
    assert_error(client.delete(f"{QUARANTINE}/{mail_id}", token=org.admin.token), 404, "NOT_FOUND")
    assert _still_held(org, held)


def test_releasing_and_discarding_log_no_address_and_no_body(
    client: Any, two_orgs: tuple[TestOrg, TestOrg], log_mark: int
) -> None:
    org, _ = two_orgs
    unique_body = "my-unique-quarantined-text-41c9"
    released = _quarantined(org, unique_body + "\n")
    discarded = _quarantined(org, unique_body + "\n")

    assert client.post(f"{QUARANTINE}/{released}/release", token=org.admin.token).status == 200
    assert client.delete(f"{QUARANTINE}/{discarded}", token=org.admin.token).status == 204

    reasons = {e.get("reason") for e in events_since(log_mark, "security.suspicious_activity")}
    assert {"mail_quarantine_released", "mail_quarantine_discarded"} <= reasons
    text = "\n".join(lines_since(log_mark)).lower()
    for needle in (CUSTOMER, unique_body, "printer on fire"):
        assert needle not in text
