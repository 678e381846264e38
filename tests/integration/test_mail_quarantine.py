"""The quarantine review over HTTP: an organization's admin lists the mail a failed SES verdict
held back, releases a message into normal intake or discards it; each step is audited."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.audit import trail as audit
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity import users
from chalicelib.intake import service
from chalicelib.intake.models import (
    MESSAGE_PREFIX,
    QUARANTINE_PREFIX,
    InboundMailModel,
    QuarantinedMailModel,
    mail_pk,
    message_hash,
)
from chalicelib.intake.service import ingest
from chalicelib.mail.addresses import reply_address, support_address
from chalicelib.tickets import repository
from chalicelib.tickets.models import CommentModel, ticket_pk
from tests.support import mail_corpus as corpus
from tests.support.assertions import assert_error
from tests.support.logcheck import events_since
from tests.support.orgs import TestOrg, mint_api_token

CUSTOMER = "jane@customer.example"
LIST = "/api/admin/mail/quarantine"
SPAM = {"X-SES-Spam-Verdict": "FAIL", "X-SES-SPF-Verdict": "PASS"}


@pytest.fixture
def org(make_org: Callable[..., TestOrg]) -> TestOrg:
    return make_org()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each message received a minute after the one before (the list's order is by receipt)."""
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ticks = iter(range(1000))
    monkeypatch.setattr(service, "_now", lambda: start + timedelta(minutes=next(ticks)))
    yield


def _hold(
    org: TestOrg,
    *,
    subject: str = "Printer on fire",
    headers: dict[str, str] | None = None,
    to: str | None = None,
    sender: str = CUSTOMER,
    body: str = "The printer is on fire.\n",
) -> tuple[str, bytes]:
    """A message to the organization that SES failed: quarantined. Its id and raw bytes."""
    msg_id = corpus.message_id()
    raw = corpus.plain(
        sender,
        to or support_address(org.id),
        body,
        subject=subject,
        msg_id=msg_id,
        headers=headers or SPAM,
    )
    assert ingest(raw).status == "QUARANTINED"
    return message_hash(msg_id), raw


def _held(org_id: str) -> list[QuarantinedMailModel]:
    return list(
        QuarantinedMailModel.query(
            mail_pk(org_id), QuarantinedMailModel.sk.startswith(QUARANTINE_PREFIX)
        )
    )


def _claim(org_id: str, mail_id: str) -> InboundMailModel:
    return InboundMailModel.get(mail_pk(org_id), f"{MESSAGE_PREFIX}{mail_id}")


def _audit(org_id: str, action: str) -> list[audit.AuditRecordModel]:
    return [
        record
        for record in audit.AuditRecordModel.query(
            org_pk(org_id), audit.AuditRecordModel.sk.startswith("REC#")
        )
        if record.action == action
    ]


def _s3() -> Any:
    return boto3.client("s3", region_name=get_settings().region)


def _comments(org_id: str, ticket_id: str) -> list[CommentModel]:
    return [
        item
        for item in CommentModel.query(
            ticket_pk(org_id, ticket_id), CommentModel.sk.startswith("COMMENT#")
        )
        if isinstance(item, CommentModel)
    ]


def test_the_list_shows_held_messages_newest_first_without_bodies(
    client: Any, org: TestOrg, clock: None
) -> None:
    first, _ = _hold(org, subject="First", body="Secret body one.\n")
    second, raw = _hold(
        org,
        subject="Second",
        headers={"X-SES-DKIM-Verdict": "FAIL", "X-SES-DMARC-Verdict": "FAIL"},
        body="Secret body two.\n",
    )

    response = client.get(LIST, token=org.admin.token)

    assert response.status == 200
    assert response.json["nextCursor"] is None
    newest, oldest = response.json["items"]
    assert (newest["id"], oldest["id"]) == (second, first)
    assert newest == {
        "id": second,
        "receivedAt": "2026-12-01T09:01:00.000+00:00",
        "from": CUSTOMER,
        "subject": "Second",
        "verdicts": {"spf": None, "dkim": "FAIL", "dmarc": "FAIL", "spam": None, "virus": None},
        "size": len(raw),
        "reason": "dkim,dmarc",
    }
    assert oldest["verdicts"]["spam"] == "FAIL" and oldest["verdicts"]["spf"] == "PASS"
    assert "Secret body" not in response.body.decode()


def test_the_list_pages_with_a_cursor_and_shows_only_the_own_organization(
    client: Any, make_org: Callable[..., TestOrg], clock: None
) -> None:
    org, other = make_org(), make_org()
    ids = [_hold(org, subject=f"Message {n}")[0] for n in range(5)]
    _hold(other, subject="Not yours")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = f"{LIST}?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, token=org.admin.token)
        assert response.status == 200
        assert len(response.json["items"]) <= 2
        seen += [item["id"] for item in response.json["items"]]
        pages += 1
        cursor = response.json["nextCursor"]
        if cursor is None:
            break

    assert seen == list(reversed(ids))
    assert pages == 3
    theirs = client.get(LIST, token=other.admin.token).json["items"]
    assert [item["subject"] for item in theirs] == ["Not yours"]


def test_an_api_token_with_the_admin_mail_scope_lists_the_quarantine_but_never_releases(
    client: Any, org: TestOrg
) -> None:
    mail_id, _ = _hold(org)
    token = mint_api_token(org.admin, ["admin:mail"])
    without = mint_api_token(org.admin, ["admin:users", "admin:audit"])

    assert [i["id"] for i in client.get(LIST, token=token).json["items"]] == [mail_id]
    assert_error(client.get(LIST, token=without), 403, "FORBIDDEN")
    # Release and discard take the admin's session: a token, whatever its scopes, cannot.
    assert_error(client.post(f"{LIST}/{mail_id}/release", token=token), 403, "FORBIDDEN")
    assert_error(client.delete(f"{LIST}/{mail_id}", token=token), 403, "FORBIDDEN")
    assert [i["id"] for i in client.get(LIST, token=token).json["items"]] == [mail_id]


def test_release_tickets_the_message_and_removes_it_from_the_quarantine(
    client: Any, org: TestOrg, log_mark: int
) -> None:
    mail_id, raw = _hold(org)
    assert users.find_by_email(org.id, CUSTOMER) is None

    response = client.post(f"{LIST}/{mail_id}/release", token=org.admin.token)

    assert response.status == 200, response.body
    released = response.json
    assert (released["id"], released["status"], released["commentId"]) == (
        mail_id,
        "TICKETED",
        None,
    )
    ticket = repository.get_ticket(org.id, released["ticketId"])
    assert ticket is not None
    assert (ticket.subject, ticket.body_markdown) == ("Printer on fire", "The printer is on fire.")
    requester = users.find_by_email(org.id, CUSTOMER)
    assert requester is not None and ticket.requester_id == requester.id
    assert _held(org.id) == []
    assert client.get(LIST, token=org.admin.token).json["items"] == []
    claim = _claim(org.id, mail_id)
    assert (claim.status, claim.ticket_id) == ("RELEASED", released["ticketId"])
    (record,) = _audit(org.id, "mail.quarantine_released")
    assert (record.actor_id, record.target_type, record.target_id) == (
        org.admin.id,
        "inbound_mail",
        mail_id,
    )
    assert released["ticketId"] in record.details and CUSTOMER not in record.details
    (event,) = [
        e
        for e in events_since(log_mark, "security.suspicious_activity")
        if e.get("reason") == "mail_quarantine_released"
    ]
    assert (event["kind"], event["target_id"], event["ticket_id"]) == (
        "spam",
        mail_id,
        released["ticketId"],
    )
    assert event["user_id"] == org.admin.id
    # Released once: a second release, and the same message delivered again, do nothing.
    assert_error(client.post(f"{LIST}/{mail_id}/release", token=org.admin.token), 404, "NOT_FOUND")
    assert ingest(raw).status == "DUPLICATE"


def test_a_released_reply_is_a_comment_on_its_ticket(client: Any, org: TestOrg) -> None:
    opened = ingest(corpus.plain(CUSTOMER, support_address(org.id)))
    assert opened.ticket_id is not None
    mail_id, _ = _hold(
        org,
        to=reply_address(org.id, opened.ticket_id),
        headers={"X-SES-DKIM-Verdict": "FAIL"},
        body="It is still burning.\n",
    )

    response = client.post(f"{LIST}/{mail_id}/release", token=org.admin.token)

    assert response.status == 200, response.body
    assert (response.json["status"], response.json["ticketId"]) == ("COMMENTED", opened.ticket_id)
    (comment,) = _comments(org.id, opened.ticket_id)
    assert comment.comment_id == response.json["commentId"]
    assert "It is still burning." in comment.body_markdown


def test_a_message_that_failed_the_virus_scan_cannot_be_released(client: Any, org: TestOrg) -> None:
    mail_id, _ = _hold(org, headers={"X-SES-Virus-Verdict": "FAIL"})

    response = client.post(f"{LIST}/{mail_id}/release", token=org.admin.token)

    message = assert_error(response, 409, "CONFLICT")["error"]["message"]
    assert "virus" in message and "discard" in message
    assert users.find_by_email(org.id, CUSTOMER) is None  # nothing was ticketed
    assert [item.message_hash for item in _held(org.id)] == [mail_id]
    assert _claim(org.id, mail_id).status == "QUARANTINED"
    assert _audit(org.id, "mail.quarantine_released") == []
    # It can still be discarded.
    assert client.delete(f"{LIST}/{mail_id}", token=org.admin.token).status == 204


def test_a_message_whose_stored_copy_is_gone_stays_quarantined(client: Any, org: TestOrg) -> None:
    mail_id, _ = _hold(org)
    (held,) = _held(org.id)
    _s3().delete_object(Bucket=held.raw_bucket, Key=held.raw_key)

    response = client.post(f"{LIST}/{mail_id}/release", token=org.admin.token)

    assert_error(response, 409, "CONFLICT")
    assert _claim(org.id, mail_id).status == "QUARANTINED"
    assert len(_held(org.id)) == 1
    assert client.delete(f"{LIST}/{mail_id}", token=org.admin.token).status == 204


def test_discard_deletes_the_item_and_every_version_of_the_stored_message(
    client: Any, org: TestOrg, log_mark: int
) -> None:
    mail_id, raw = _hold(org)
    kept, _ = _hold(org, subject="Keep me")
    held = next(item for item in _held(org.id) if item.message_hash == mail_id)
    bucket, key = held.raw_bucket, held.raw_key
    assert _s3().get_object(Bucket=bucket, Key=key)["Body"].read() == raw

    response = client.delete(f"{LIST}/{mail_id}", token=org.admin.token)

    assert response.status == 204 and response.body == b""
    assert [item.message_hash for item in _held(org.id)] == [kept]
    versions = _s3().list_object_versions(Bucket=bucket, Prefix=key)
    assert [v for v in versions.get("Versions", []) if v["Key"] == key] == []
    assert [m for m in versions.get("DeleteMarkers", []) if m["Key"] == key] == []
    assert _claim(org.id, mail_id).status == "DISCARDED"
    (record,) = _audit(org.id, "mail.quarantine_discarded")
    assert (record.actor_id, record.target_id) == (org.admin.id, mail_id)
    assert CUSTOMER not in record.details
    assert any(
        e.get("reason") == "mail_quarantine_discarded" and e.get("target_id") == mail_id
        for e in events_since(log_mark, "security.suspicious_activity")
    )
    # Gone: a second discard or a release is a 404, the same message again is not re-ingested.
    assert_error(client.delete(f"{LIST}/{mail_id}", token=org.admin.token), 404, "NOT_FOUND")
    assert_error(client.post(f"{LIST}/{mail_id}/release", token=org.admin.token), 404, "NOT_FOUND")
    assert ingest(raw).status == "DUPLICATE"
    assert users.find_by_email(org.id, CUSTOMER) is None


def test_a_ticketed_message_is_not_in_the_quarantine(client: Any, org: TestOrg) -> None:
    msg_id = corpus.message_id()
    outcome = ingest(corpus.plain(CUSTOMER, support_address(org.id), msg_id=msg_id))
    assert outcome.status == "TICKETED"

    url = f"{LIST}/{message_hash(msg_id)}"
    assert_error(client.post(f"{url}/release", token=org.admin.token), 404, "NOT_FOUND")
    assert_error(client.delete(url, token=org.admin.token), 404, "NOT_FOUND")
    assert _claim(org.id, message_hash(msg_id)).status == "TICKETED"


def test_a_message_ses_stored_is_released_and_discarded_from_where_ses_put_it(
    client: Any, org: TestOrg
) -> None:
    from chalicelib.api.mail_intake import ingest_mail

    settings = get_settings()
    ids = []
    for ses_id in ("ses-release", "ses-discard"):
        msg_id = corpus.message_id()
        raw = corpus.plain(CUSTOMER, support_address(org.id), msg_id=msg_id)
        _s3().put_object(Bucket=settings.inbound_mail_bucket, Key=f"inbound/{ses_id}", Body=raw)
        receipt = {"recipients": [support_address(org.id)], "spamVerdict": {"status": "FAIL"}}
        event = {"Records": [{"ses": {"mail": {"messageId": ses_id}, "receipt": receipt}}]}
        (result,) = ingest_mail(event, None)
        assert result["status"] == "QUARANTINED"
        ids.append(message_hash(msg_id))
    keys = {item.raw_key for item in _held(org.id)}
    assert keys == {"inbound/ses-release", "inbound/ses-discard"}

    released = client.post(f"{LIST}/{ids[0]}/release", token=org.admin.token)
    discarded = client.delete(f"{LIST}/{ids[1]}", token=org.admin.token)

    assert (released.status, released.json["status"]) == (200, "TICKETED")
    assert discarded.status == 204
    left = _s3().list_object_versions(Bucket=settings.inbound_mail_bucket, Prefix="inbound/ses-")
    assert [v["Key"] for v in left.get("Versions", [])] == ["inbound/ses-release"]
