"""Inbound mail, end to end on moto: each message of the corpus lands where the rules say.

Every test ingests raw bytes through `chalicelib.intake.service.ingest` (what the SES Lambda
calls) and then looks at what a user would see: tickets, comments, attachment records and
objects, the inbound-mail records.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from chalicelib.attachments.models import AttachmentItem
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings, override
from chalicelib.identity import users
from chalicelib.intake.models import (
    QUARANTINE_PREFIX,
    InboundMailModel,
    QuarantinedMailModel,
    mail_pk,
)
from chalicelib.intake.service import ingest
from chalicelib.mail.addresses import reply_address, support_address, thread_message_id
from chalicelib.tickets import repository
from chalicelib.tickets.models import CommentModel, ticket_pk
from tests.support import mail_corpus as corpus
from tests.support.orgs import TestOrg

CUSTOMER = "jane@customer.example"


@pytest.fixture
def org(make_org: Callable[..., TestOrg]) -> TestOrg:
    return make_org()


def _ticket(org_id: str, ticket_id: str | None) -> Any:
    assert ticket_id is not None
    item = repository.get_ticket(org_id, ticket_id)
    assert item is not None
    return item


def _comments(org_id: str, ticket_id: str) -> list[CommentModel]:
    return [
        item
        for item in CommentModel.query(
            ticket_pk(org_id, ticket_id), CommentModel.sk.startswith("COMMENT#")
        )
        if isinstance(item, CommentModel)
    ]


def _attachments(org_id: str, ticket_id: str) -> list[AttachmentItem]:
    return [
        item
        for item in AttachmentItem.query(org_pk(org_id))
        if getattr(item, "ticket_id", None) == ticket_id
    ]


def _object(key: str) -> bytes:
    s3 = boto3.client("s3", region_name=get_settings().region)
    body: bytes = s3.get_object(Bucket=get_settings().uploads_bucket, Key=key)["Body"].read()
    return body


def _open_ticket(org: TestOrg, sender: str = CUSTOMER) -> str:
    outcome = ingest(corpus.plain(sender, support_address(org.id)))
    assert outcome.status == "TICKETED"
    assert outcome.ticket_id is not None
    return outcome.ticket_id


def test_a_new_message_opens_a_ticket_for_a_new_requester(org: TestOrg) -> None:
    outcome = ingest(corpus.plain(f"Jane Customer <{CUSTOMER}>", support_address(org.id)))

    assert (outcome.status, outcome.organization_id) == ("TICKETED", org.id)
    ticket = _ticket(org.id, outcome.ticket_id)
    assert ticket.subject == "Printer on fire"
    assert ticket.body_markdown == "The printer is on fire."
    requester = users.find_by_email(org.id, CUSTOMER)
    assert requester is not None
    assert (requester.id, requester.role.value, requester.name) == (
        ticket.requester_id,
        "REQUESTER",
        "Jane Customer",
    )
    # The original message is kept as a PENDING_SCAN attachment in the uploads bucket.
    (original,) = _attachments(org.id, ticket.ticket_id)
    assert (original.filename, original.declared_type, original.status) == (
        "original.eml",
        "message/rfc822",
        "PENDING_SCAN",
    )
    assert b"The printer is on fire." in _object(original.s3_key)


def test_a_known_requester_gets_the_ticket_without_a_second_account(org: TestOrg) -> None:
    outcome = ingest(corpus.plain(org.requester.email, support_address(org.id)))

    assert _ticket(org.id, outcome.ticket_id).requester_id == org.requester.id


def test_multipart_alternative_prefers_the_plain_text(org: TestOrg) -> None:
    raw = corpus.alternative(
        CUSTOMER, support_address(org.id), "Plain words.\n", "<p>HTML <b>words</b></p>"
    )
    outcome = ingest(raw)

    assert _ticket(org.id, outcome.ticket_id).body_markdown == "Plain words."


def test_an_html_only_message_becomes_text(org: TestOrg) -> None:
    markup = (
        "<html><head><style>p{color:red}</style></head><body><p>First line</p>"
        "<p>Second &amp; last</p><script>alert(1)</script></body></html>"
    )
    outcome = ingest(corpus.html_only(CUSTOMER, support_address(org.id), markup))

    body = _ticket(org.id, outcome.ticket_id).body_markdown
    assert body == "First line\n\nSecond & last"


@pytest.mark.parametrize(
    ("charset", "cte", "text"),
    [
        ("utf-8", "base64", "Grüße aus Köln"),
        ("utf-8", "quoted-printable", "Café crème, déjà vu"),
        ("iso-8859-1", "quoted-printable", "Señor Müller, ça va?"),
        ("shift_jis", "base64", "プリンターが燃えています"),
    ],
)
def test_transfer_encodings_and_charsets_are_decoded(
    org: TestOrg, charset: str, cte: str, text: str
) -> None:
    raw = corpus.encoded(CUSTOMER, support_address(org.id), text + "\n", charset=charset, cte=cte)
    assert text.encode("utf-8") not in raw  # really encoded on the wire

    outcome = ingest(raw)

    assert _ticket(org.id, outcome.ticket_id).body_markdown == text


def test_a_forwarded_message_keeps_the_forwarded_text(org: TestOrg) -> None:
    outcome = ingest(corpus.forwarded(CUSTOMER, support_address(org.id)))

    body = _ticket(org.id, outcome.ticket_id).body_markdown
    assert "Please look at this one." in body
    assert "Your invoice is due." in body


@pytest.mark.parametrize(
    "quoted",
    [
        corpus.GMAIL_QUOTE,
        corpus.OUTLOOK_QUOTE,
        corpus.OUTLOOK_ORIGINAL,
        corpus.APPLE_QUOTE,
        "> We are looking into it.\n> Regards\n",
        corpus.SIGNATURE + "\n" + corpus.GMAIL_QUOTE,
    ],
    ids=["gmail", "outlook", "outlook-original", "apple", "quotes", "signature"],
)
def test_a_reply_to_the_reply_address_is_a_trimmed_comment(org: TestOrg, quoted: str) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.reply(CUSTOMER, reply_address(org.id, ticket_id), "It is out now.", quoted)

    outcome = ingest(raw)

    assert (outcome.status, outcome.ticket_id) == ("COMMENTED", ticket_id)
    (comment,) = _comments(org.id, ticket_id)
    assert comment.body_markdown == "It is out now."
    assert comment.internal is False
    assert comment.comment_id == outcome.comment_id


def test_a_reply_threads_by_in_reply_to(org: TestOrg) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.reply(
        CUSTOMER,
        support_address(org.id),
        "Threaded by header.",
        corpus.GMAIL_QUOTE,
        in_reply_to=thread_message_id(org.id, ticket_id),
    )

    outcome = ingest(raw)

    assert (outcome.status, outcome.ticket_id) == ("COMMENTED", ticket_id)
    assert [c.body_markdown for c in _comments(org.id, ticket_id)] == ["Threaded by header."]


def test_staff_reply_by_mail_with_a_dmarc_pass_is_a_public_comment(org: TestOrg) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.reply(org.agent.email, reply_address(org.id, ticket_id), "On it.", "")

    outcome = ingest(raw, receipt={"dmarcVerdict": {"status": "PASS"}})

    assert outcome.status == "COMMENTED"
    (comment,) = _comments(org.id, ticket_id)
    assert (comment.author_id, comment.internal) == (org.agent.id, False)
    assert _ticket(org.id, ticket_id).first_responded_at is not None
    # The staff member's raw mail (quoted history, colleagues in Cc) is not handed to the
    # requester as an attachment; the requester's own original is.
    names = [a.filename for a in _attachments(org.id, ticket_id)]
    assert names == ["original.eml"]  # the one of the requester's mail that opened it


@pytest.mark.parametrize("dmarc", [None, "GRAY", "PROCESSING_FAILED"])
def test_a_staff_address_without_a_dmarc_pass_is_held_not_believed(
    org: TestOrg, dmarc: str | None
) -> None:
    """Anyone can write an agent's address in From: without an aligned DMARC pass the message
    is quarantined for an administrator, never a staff reply on the ticket."""
    ticket_id = _open_ticket(org)
    raw = corpus.reply(org.agent.email, reply_address(org.id, ticket_id), "Refund sent.", "")
    receipt = {"dmarcVerdict": {"status": dmarc}} if dmarc else None

    outcome = ingest(raw, receipt=receipt)

    assert (outcome.status, outcome.reason) == ("QUARANTINED", "staff-unauthenticated")
    assert _comments(org.id, ticket_id) == []
    assert _ticket(org.id, ticket_id).first_responded_at is None


def test_a_replayed_message_id_makes_one_ticket(org: TestOrg) -> None:
    raw = corpus.plain(CUSTOMER, support_address(org.id))

    first, second = ingest(raw), ingest(raw)

    assert first.status == "TICKETED"
    assert (second.status, second.reason) == ("DUPLICATE", "message-id")
    assert second.ticket_id is None
    records = list(InboundMailModel.query(mail_pk(org.id), InboundMailModel.sk.startswith("MSG#")))
    assert len(records) == 1
    assert (records[0].status, records[0].ticket_id) == ("TICKETED", first.ticket_id)


def test_a_replayed_reply_makes_one_comment(org: TestOrg) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.reply(CUSTOMER, reply_address(org.id, ticket_id), "Only once.", "")

    ingest(raw)
    ingest(raw)

    assert [c.body_markdown for c in _comments(org.id, ticket_id)] == ["Only once."]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-submitted"),
        ({"Precedence": "bulk"}, "precedence"),
        ({"Precedence": "junk"}, "precedence"),
        ({"X-Autoreply": "yes"}, "auto-reply"),
        ({"List-Id": "<announce.vendor.example>"}, "mailing-list"),
    ],
)
def test_automatic_mail_is_recorded_not_ticketed(
    org: TestOrg, headers: dict[str, str], reason: str
) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.plain(
        CUSTOMER, reply_address(org.id, ticket_id), "I am out of office.\n", headers=headers
    )

    outcome = ingest(raw)

    assert (outcome.status, outcome.reason, outcome.ticket_id) == ("IGNORED", reason, None)
    assert _comments(org.id, ticket_id) == []


def test_a_bounce_from_the_mailer_daemon_is_not_ticketed(org: TestOrg) -> None:
    raw = corpus.plain("MAILER-DAEMON@mx.customer.example", support_address(org.id))

    outcome = ingest(raw)

    assert (outcome.status, outcome.reason) == ("IGNORED", "bounce")
    assert users.find_by_email(org.id, "mailer-daemon@mx.customer.example") is None


def test_our_own_message_coming_back_is_a_loop(org: TestOrg) -> None:
    ticket_id = _open_ticket(org)
    raw = corpus.plain(
        CUSTOMER, support_address(org.id), msg_id=thread_message_id(org.id, ticket_id)
    )

    outcome = ingest(raw)

    assert (outcome.status, outcome.reason) == ("IGNORED", "loop")
    assert _comments(org.id, ticket_id) == []


@pytest.mark.parametrize(
    ("headers", "receipt", "reason"),
    [
        ({"X-SES-Spam-Verdict": "FAIL"}, None, "spam"),
        ({"X-SES-DKIM-Verdict": "FAIL"}, None, "dkim"),
        (
            {},
            {"virusVerdict": {"status": "FAIL"}, "dmarcVerdict": {"status": "FAIL"}},
            "virus,dmarc",
        ),
    ],
)
def test_a_failing_verdict_is_quarantined_not_ticketed(
    org: TestOrg, headers: dict[str, str], receipt: dict[str, Any] | None, reason: str
) -> None:
    raw = corpus.plain(CUSTOMER, support_address(org.id), headers=headers)

    outcome = ingest(raw, receipt=receipt)

    assert (outcome.status, outcome.reason, outcome.ticket_id) == ("QUARANTINED", reason, None)
    assert users.find_by_email(org.id, CUSTOMER) is None  # nobody created for it
    (held,) = QuarantinedMailModel.query(
        mail_pk(org.id), QuarantinedMailModel.sk.startswith(QUARANTINE_PREFIX)
    )
    assert (held.reason, held.sender, held.subject) == (reason, CUSTOMER, "Printer on fire")
    s3 = boto3.client("s3", region_name=get_settings().region)
    assert s3.get_object(Bucket=held.raw_bucket, Key=held.raw_key)["Body"].read() == raw


def test_passing_verdicts_are_recorded(org: TestOrg) -> None:
    receipt = {name: {"status": "PASS"} for name in ("spamVerdict", "virusVerdict", "dkimVerdict")}

    outcome = ingest(corpus.plain(CUSTOMER, support_address(org.id)), receipt=receipt)

    assert outcome.status == "TICKETED"
    (record,) = InboundMailModel.query(mail_pk(org.id), InboundMailModel.sk.startswith("MSG#"))
    assert record.verdicts == "spam=PASS virus=PASS dkim=PASS"


def test_attachments_and_inline_images_go_to_the_scan_path(org: TestOrg) -> None:
    pdf = b"%PDF-1.4\n" + b"0" * 100
    raw = corpus.with_files(
        CUSTOMER,
        support_address(org.id),
        [("invoice.pdf", "application/pdf", pdf)],
        inline_png=True,
    )

    outcome = ingest(raw)

    found = {
        a.filename: a for a in _attachments(org.id, _ticket(org.id, outcome.ticket_id).ticket_id)
    }
    assert set(found) == {"invoice.pdf", "part-1.png", "original.eml"}
    assert {a.status for a in found.values()} == {"PENDING_SCAN"}
    assert _object(found["invoice.pdf"].s3_key) == pdf
    assert (
        found["invoice.pdf"].s3_key
        == f"org/{org.id}/ticket/{outcome.ticket_id}/{found['invoice.pdf'].attachment_id}"
    )
    assert outcome.attachments == 3


@pytest.mark.usefixtures("scanner_settings")
def test_mail_files_and_the_original_message_scan_clean(app: Any, org: TestOrg) -> None:
    """Through the real scanner (ClamAV): the mail's file and its `original.eml` come out
    CLEAN, so both can be downloaded."""
    from tests.support.attachments import deliver_created
    from tests.support.av import pdf_bytes

    pdf = pdf_bytes()
    raw = corpus.with_files(
        CUSTOMER, support_address(org.id), [("invoice.pdf", "application/pdf", pdf)]
    )
    outcome = ingest(raw)
    ticket_id = _ticket(org.id, outcome.ticket_id).ticket_id
    for attachment in _attachments(org.id, ticket_id):
        deliver_created(app, attachment.s3_key)
    statuses = {a.filename: a.status for a in _attachments(org.id, ticket_id)}
    assert statuses == {"invoice.pdf": "CLEAN", "original.eml": "CLEAN"}


def test_an_attachment_over_the_limit_is_dropped_and_named(org: TestOrg) -> None:
    big = b"A" * (20 * 1024 * 1024)
    raw = corpus.with_files(
        CUSTOMER,
        support_address(org.id),
        [("huge.pdf", "application/pdf", big), ("small.txt", "text/plain", b"hello")],
    )

    outcome = ingest(raw)

    ticket = _ticket(org.id, outcome.ticket_id)
    names = {a.filename for a in _attachments(org.id, ticket.ticket_id)}
    assert names == {"small.txt", "original.eml"}
    assert "huge.pdf (20971520 bytes, over the 10485760-byte limit)" in ticket.body_markdown
    assert outcome.dropped_parts == 1


def test_a_forty_part_message_keeps_the_first_parts_and_names_the_rest(org: TestOrg) -> None:
    files = [(f"note-{n:02}.txt", "text/plain", f"note {n}".encode()) for n in range(39)]
    raw = corpus.with_files(CUSTOMER, support_address(org.id), files)  # 1 text + 39 files

    with override(mail_max_parts=32, mail_max_attachments=50):
        outcome = ingest(raw)

    ticket = _ticket(org.id, outcome.ticket_id)
    kept = {a.filename for a in _attachments(org.id, ticket.ticket_id)} - {"original.eml"}
    assert kept == {f"note-{n:02}.txt" for n in range(31)}
    assert "8 of 40 parts (at most 32 are read)" in ticket.body_markdown


def test_too_many_attachments_are_dropped_and_named(org: TestOrg) -> None:
    files = [(f"f{n}.txt", "text/plain", b"x") for n in range(12)]
    outcome = ingest(corpus.with_files(CUSTOMER, support_address(org.id), files))

    ticket = _ticket(org.id, outcome.ticket_id)
    assert len(_attachments(org.id, ticket.ticket_id)) == 10 + 1
    assert "f10.txt (more than 10 attachments)" in ticket.body_markdown


def test_a_message_over_the_size_limit_is_dropped(org: TestOrg) -> None:
    with override(mail_max_message_bytes=1000):
        outcome = ingest(corpus.plain(CUSTOMER, support_address(org.id), "x" * 2000))

    assert (outcome.status, outcome.reason) == ("TOO_LARGE", "message-size")
    assert users.find_by_email(org.id, CUSTOMER) is None


def test_a_message_to_no_organization_is_dropped(org: TestOrg) -> None:
    outcome = ingest(corpus.plain(CUSTOMER, "support@nobody-here.mail.deskguard.example"))
    other = ingest(corpus.plain(CUSTOMER, "someone@elsewhere.example"))

    assert (outcome.status, other.status) == ("DROPPED", "DROPPED")


def test_a_reply_to_a_closed_ticket_opens_a_new_one(org: TestOrg, client: Any) -> None:
    ticket_id = _open_ticket(org)
    item = _ticket(org.id, ticket_id)
    item.update(actions=[type(item).status.set("CLOSED")])
    raw = corpus.reply(CUSTOMER, reply_address(org.id, ticket_id), "Back again.", "")

    outcome = ingest(raw)

    assert outcome.status == "TICKETED"
    assert outcome.ticket_id != ticket_id
    assert _comments(org.id, ticket_id) == []


def test_the_lambda_ingests_the_object_ses_stored(org: TestOrg) -> None:
    from chalicelib.api.mail_intake import ingest_mail

    settings = get_settings()
    raw = corpus.plain(CUSTOMER, support_address(org.id))
    s3 = boto3.client("s3", region_name=settings.region)
    s3.put_object(Bucket=settings.inbound_mail_bucket, Key="inbound/abc123", Body=raw)
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {
            "bucket": {"name": settings.inbound_mail_bucket},
            "object": {"key": "inbound/abc123"},
        },
    }

    (result,) = ingest_mail(event, None)
    again = ingest_mail(event, None)

    assert result["status"] == "TICKETED"
    assert _ticket(org.id, result["ticketId"]).body_markdown == "The printer is on fire."
    assert [r["status"] for r in again] == ["DUPLICATE"]


def test_the_lambda_takes_verdicts_and_recipients_from_the_ses_receipt(org: TestOrg) -> None:
    from chalicelib.api.mail_intake import ingest_mail

    settings = get_settings()
    raw = corpus.plain(CUSTOMER, "undisclosed-recipients:;")
    s3 = boto3.client("s3", region_name=settings.region)
    s3.put_object(Bucket=settings.inbound_mail_bucket, Key="inbound/m1", Body=raw)
    receipt = {"recipients": [support_address(org.id)], "spamVerdict": {"status": "FAIL"}}
    event = {"Records": [{"ses": {"mail": {"messageId": "m1"}, "receipt": receipt}}]}

    (result,) = ingest_mail(event, None)

    assert (result["status"], result["organizationId"], result["reason"]) == (
        "QUARANTINED",
        org.id,
        "spam",
    )


def test_the_cli_ingests_an_eml_file(org: TestOrg, tmp_path: Any) -> None:
    from cli.main import main

    path = tmp_path / "message.eml"
    path.write_bytes(corpus.plain(CUSTOMER, support_address(org.id)))

    assert main(["mail", "ingest", str(path), "--org", org.id]) == 0
    assert users.find_by_email(org.id, CUSTOMER) is not None
    # Addressed to another organization than --org: dropped, exit 1.
    assert main(["mail", "ingest", str(path), "--org", "nobody-org"]) == 1


def test_the_local_drop_folder_ingests_eml_files(org: TestOrg, app: Any, tmp_path: Any) -> None:
    import threading

    from devstack.mail_inbox import MailInboxPump

    (tmp_path / "one.eml").write_bytes(corpus.plain(CUSTOMER, support_address(org.id)))
    pump = MailInboxPump(app, threading.Event(), tmp_path)

    (outcome,) = pump.round()

    assert outcome["status"] == "TICKETED"
    assert (tmp_path / "done" / "one.eml").exists()
    assert not (tmp_path / "one.eml").exists()
