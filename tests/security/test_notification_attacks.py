"""Attacks on ticket notifications: forged or moved unsubscribe tokens, header injection through a
ticket subject, markup in a ticket or reply, and notices that name another organization."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.core.keyed import sign
from chalicelib.mail.message import Message
from chalicelib.notifications import queue, unsubscribe
from chalicelib.notifications.recipients import Notice
from chalicelib.tickets import repository
from devstack import notification_pump
from tests.support.mail import inbox, sent_mail
from tests.support.orgs import TestOrg
from tests.support.tickets import comment, create_ticket, ticket_item

ALL_ON = {"ticketCreated": True, "publicReply": True, "requesterReply": True, "assigned": True}


def _one_click(client: Any, token: str) -> Any:
    return client.post(
        f"/api/notifications/unsubscribe?token={token}",
        body="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_forged_unsubscribe_tokens_change_nothing(client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    genuine = unsubscribe.token_for(org.id, org.agent.id, "ticketCreated")
    body, _, mac = genuine.partition(".")
    other_mac = unsubscribe.token_for(org.id, org.agent.id, "assigned").partition(".")[2]
    payload = f'{{"o":"{org.id}","u":"{org.agent.id}","k":"ticketCreated"}}'.encode()
    forged = [
        f"{body}.{other_mac}",  # a genuine MAC of another payload
        f"{body[:-2]}AA.{mac}",  # a payload changed under its MAC
        body,  # no MAC at all
        sign("cursor", payload),  # signed with the service key, for another purpose
        "not-a-token",
        "x" * 300,
    ]
    for token in forged:
        response = _one_click(client, token)
        assert response.status in {400, 404}, token
        assert "error" in response.json
    assert client.get("/api/me/notifications", token=org.agent.token).json == ALL_ON


def test_an_unsubscribe_token_acts_only_on_the_user_and_organization_it_names(
    client: Any, make_org: Any
) -> None:
    org_a: TestOrg = make_org()
    org_b: TestOrg = make_org()
    # A genuine token of org A's agent: it turns off that user's kind, nobody else's.
    assert (
        _one_click(client, unsubscribe.token_for(org_a.id, org_a.agent.id, "assigned")).status
        == 200
    )
    assert client.get("/api/me/notifications", token=org_b.agent.token).json == ALL_ON
    assert client.get("/api/me/notifications", token=org_a.admin.token).json == ALL_ON
    # A token naming org A's user under org B's organization addresses nobody.
    response = _one_click(client, unsubscribe.token_for(org_b.id, org_a.agent.id, "ticketCreated"))
    assert response.status == 404
    assert client.get("/api/me/notifications", token=org_a.agent.token).json == {
        **ALL_ON,
        "assigned": False,
    }


def test_a_subject_with_line_breaks_cannot_add_headers() -> None:
    message = Message(
        to="victim@example.com",
        subject="Hello\r\nBcc: attacker@evil.example\r\n\r\nInjected body",
        text="text",
        html="<p>html</p>",
        kind="test",
        headers=(("References", "<a@b>\r\nX-Evil: 1"),),
    )
    raw = message.to_mime("Deskguard <no-reply@deskguard.example>").decode()
    head = raw.split("\n\n", 1)[0]
    assert "\nBcc:" not in head and "\nX-Evil:" not in head
    assert "Subject: Hello Bcc: attacker@evil.example Injected body" in head


def test_a_stored_subject_with_line_breaks_arrives_on_one_line(
    app: Chalice, client: Any, make_org: Any
) -> None:
    """A ticket whose subject was stored with line breaks (before validation refused them, or
    by a path that does not validate) still cannot inject a header into its notification."""
    org: TestOrg = make_org()
    item = ticket_item(org.id, org.requester.id, subject="Broken\r\nBcc: attacker@evil.example")
    repository.put_tickets([item])
    queue.enqueue([Notice(org.id, org.agent.id, "ticketCreated", item.ticket_id, "0" * 32)])
    notification_pump.drain(app)
    (mail,) = inbox(org.agent.email)
    assert mail.subject == "[New ticket] Broken Bcc: attacker@evil.example"
    assert "Bcc" not in mail.headers
    assert {m.to for m in sent_mail()} == {org.agent.email}


def test_markup_in_a_ticket_or_reply_arrives_as_harmless_html(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = create_ticket(
        client,
        org.requester,
        subject="<img src=x onerror=alert(1)>",
        body=(
            "<script>alert(1)</script> [click](javascript:alert(1)) "
            '<a href="https://ok.example" onclick="x()">ok</a>'
        ),
    )
    assert (
        comment(
            client, org.agent, ticket["id"], "<iframe src=https://evil.example></iframe>hi"
        ).status
        == 201
    )
    notification_pump.drain(app)
    mails = inbox(org.agent.email) + inbox(org.requester.email)
    assert len(mails) == 2
    for mail in mails:
        lowered = mail.html.lower()
        for bad in ("<script", "onerror", "onclick", "javascript:", "<iframe", "<img"):
            assert bad not in lowered, (bad, mail.html)


def test_a_requester_is_never_told_about_a_ticket_that_is_not_theirs(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    other = org.add_user(org.requester.role)
    ticket = create_ticket(client, org.requester, subject="Mine only")
    assert comment(client, org.agent, ticket["id"], "Reply").status == 201
    comment_id = next(
        c["id"]
        for c in client.get(f"/api/tickets/{ticket['id']}/comments", token=org.agent.token).json[
            "items"
        ]
    )
    notification_pump.drain(app)
    before = len(sent_mail())
    # A notice naming another requester of the same organization (a bug or a tampered queue).
    queue.enqueue([Notice(org.id, other.id, "publicReply", ticket["id"], "0" * 32, comment_id)])
    queue.enqueue([Notice(org.id, org.requester.id, "ticketCreated", ticket["id"], "0" * 32)])
    notification_pump.drain(app)
    assert len(sent_mail()) == before
    assert inbox(other.email) == []
