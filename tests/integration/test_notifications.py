"""Ticket notifications: who receives which mail (read back from moto's SES), the headers that
thread it and let the recipient unsubscribe, per-user preferences, and what happens when SES
fails (the API call stands; the notice is retried, then dead-lettered).

`notify()` plays the production wiring: the webhooks table's stream through the real
`route_notifications` function, then the notifications queue through `send_notifications`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from chalice.app import Chalice

from chalicelib.audit.models import AuditRecordModel
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.mail import addresses
from chalicelib.notifications import queue
from chalicelib.notifications.recipients import Notice
from devstack import notification_pump
from tests.support.logcheck import lines_since, register_sensitive
from tests.support.mail import ReceivedMail, inbox, sent_mail
from tests.support.orgs import TestOrg, TestUser
from tests.support.tickets import comment, create_ticket, patch

ALL_ON = {"ticketCreated": True, "publicReply": True, "requesterReply": True, "assigned": True}


def notify(app: Chalice) -> None:
    notification_pump.drain(app)


def _preference_audits(org: TestOrg, user: TestUser) -> list[dict[str, Any]]:
    return [
        {"actor": record.actor_id, **json.loads(record.details)}
        for record in AuditRecordModel.query(org_pk(org.id), AuditRecordModel.sk.startswith("REC#"))
        if record.action == "user.notifications" and record.target_id == user.id
    ]


def _ticket(client: Any, user: TestUser, subject: str = "Printer on fire") -> dict[str, Any]:
    register_sensitive(subject)
    return create_ticket(client, user, subject=subject, body="The *printer* is burning")


def _assign(client: Any, by: TestUser, ticket: dict[str, Any], to: TestUser) -> dict[str, Any]:
    response = patch(client, by, ticket, assigneeId=to.id)
    assert response.status == 200, response.body
    updated: dict[str, Any] = response.json
    return updated


def _unsubscribe_link(mail: ReceivedMail) -> str:
    header = mail.headers["List-Unsubscribe"]
    links = [part.strip().strip("<>") for part in header.split(",")]
    (https,) = [link for link in links if link.startswith(get_settings().public_app_url)]
    assert any(link.startswith("mailto:") for link in links)
    return https


def _one_click(client: Any, link: str) -> Any:
    parts = urlsplit(link)
    return client.post(
        f"{parts.path}?{parts.query}",
        body="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _dead_letters() -> list[dict[str, Any]]:
    sqs = queue.client()
    url = sqs.get_queue_url(
        QueueName=queue.dead_letter_queue_name(get_settings().notifications_queue)
    )["QueueUrl"]
    messages: list[dict[str, Any]] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return messages


# --- Who is told -------------------------------------------------------------------------------


def test_a_new_ticket_is_mailed_to_every_agent_and_admin_not_to_its_requester(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Cannot log in to the VPN")
    notify(app)
    for staff in (org.agent, org.admin):
        (mail,) = inbox(staff.email)
        assert mail.subject == "[New ticket] Cannot log in to the VPN"
        assert "The *printer* is burning" in mail.text
        assert "<em>printer</em>" in mail.html
        assert f"/tickets/{ticket['id']}" in mail.text
    assert inbox(org.requester.email) == []


def test_the_author_of_a_new_ticket_is_not_told_about_it(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    _ticket(client, org.agent)
    notify(app)
    assert inbox(org.agent.email) == []
    assert len(inbox(org.admin.email)) == 1


def test_a_public_staff_reply_is_mailed_to_the_requester_only(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Printer jammed again")
    notify(app)
    before = len(sent_mail())
    assert comment(client, org.agent, ticket["id"], "Try turning it off and on").status == 201
    notify(app)
    (mail,) = inbox(org.requester.email)
    assert mail.subject == "Re: Printer jammed again"
    assert "Try turning it off and on" in mail.text
    assert len(sent_mail()) == before + 1  # the author (and other staff) receive nothing


def test_an_internal_note_is_never_mailed(app: Chalice, client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester)
    _assign(client, org.admin, ticket, org.agent)
    notify(app)
    before = len(sent_mail())
    note = "Customer is on the legacy plan, do not refund"
    register_sensitive(note)
    response = comment(client, org.admin, ticket["id"], note, internal=True)
    assert response.status == 201
    notify(app)
    assert len(sent_mail()) == before
    assert all(note not in mail.text and note not in mail.html for mail in sent_mail())


def test_a_requester_reply_goes_to_the_assignee(app: Chalice, client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Screen flickers")
    _assign(client, org.admin, ticket, org.agent)
    notify(app)
    admin_before = len(inbox(org.admin.email))
    assert comment(client, org.requester, ticket["id"], "Still flickering").status == 201
    notify(app)
    replies = [mail for mail in inbox(org.agent.email) if mail.subject.startswith("Re:")]
    assert len(replies) == 1 and "Still flickering" in replies[0].text
    assert len(inbox(org.admin.email)) == admin_before
    assert [m for m in inbox(org.requester.email) if m.subject.startswith("Re:")] == []


def test_a_requester_reply_on_an_unassigned_ticket_goes_to_every_agent_and_admin(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Mouse broken")
    notify(app)
    assert comment(client, org.requester, ticket["id"], "Any news?").status == 201
    notify(app)
    for staff in (org.agent, org.admin):
        assert [m.subject for m in inbox(staff.email)] == [
            "[New ticket] Mouse broken",
            "Re: Mouse broken",
        ]


def test_an_assignment_is_mailed_to_the_new_assignee_unless_they_took_it_themself(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Keyboard sticky")
    notify(app)
    updated = _assign(client, org.admin, ticket, org.agent)
    notify(app)
    assigned = [m for m in inbox(org.agent.email) if m.subject.startswith("[Assigned")]
    assert [m.subject for m in assigned] == ["[Assigned to you] Keyboard sticky"]
    # The admin takes it over: nobody is mailed about their own change.
    before = len(sent_mail())
    _assign(client, org.admin, updated, org.admin)
    notify(app)
    assert len(sent_mail()) == before


# --- Headers -----------------------------------------------------------------------------------


def test_notifications_thread_under_the_ticket_and_reply_to_its_reply_address(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    ticket = _ticket(client, org.requester, "Thread me")
    notify(app)
    assert comment(client, org.agent, ticket["id"], "On it").status == 201
    notify(app)
    created = inbox(org.agent.email)[0]
    reply = inbox(org.requester.email)[0]
    thread = addresses.thread_message_id(org.id, ticket["id"])
    for mail in (created, reply):
        assert mail.headers["In-Reply-To"] == thread
        assert mail.headers["References"] == thread
        assert mail.headers["Reply-To"] == addresses.reply_address(org.id, ticket["id"])
        assert addresses.ticket_of_message_id(mail.headers["Message-ID"]) == (org.id, ticket["id"])
        assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert mail.headers["Auto-Submitted"] == "auto-generated"
    assert created.headers["Message-ID"] != reply.headers["Message-ID"]


# --- Preferences and unsubscribe ---------------------------------------------------------------


def test_preferences_default_on_and_a_kind_turned_off_is_not_mailed(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    response = client.get("/api/me/notifications", token=org.agent.token)
    assert response.status == 200 and response.json == ALL_ON
    off = {**ALL_ON, "ticketCreated": False}
    response = client.put("/api/me/notifications", json=off, token=org.agent.token)
    assert response.status == 200 and response.json == off
    assert client.get("/api/me/notifications", token=org.agent.token).json == off
    # Audited with what changed; the same PUT again changes and records nothing.
    assert client.put("/api/me/notifications", json=off, token=org.agent.token).status == 200
    assert _preference_audits(org, org.agent) == [
        {
            "actor": org.agent.id,
            "before": {"ticketCreated": True},
            "after": {"ticketCreated": False, "via": "settings"},
        }
    ]
    _ticket(client, org.requester)
    notify(app)
    assert inbox(org.agent.email) == []
    assert len(inbox(org.admin.email)) == 1


def test_preferences_refuse_unknown_or_missing_kinds(client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    for body in (
        {**ALL_ON, "everything": False},
        {"ticketCreated": False},
        {**ALL_ON, "assigned": "no"},
    ):
        response = client.put("/api/me/notifications", json=body, token=org.agent.token)
        assert response.status == 400
    assert client.get("/api/me/notifications", token=org.agent.token).json == ALL_ON


def test_the_one_click_unsubscribe_link_turns_that_kind_off(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    _ticket(client, org.requester, "First")
    notify(app)
    (mail,) = inbox(org.agent.email)
    link = _unsubscribe_link(mail)
    assert link in mail.text  # the footer link is the same one-click address
    response = _one_click(client, link)
    assert response.status == 200
    assert response.json == {"kind": "ticketCreated", "subscribed": False}
    assert client.get("/api/me/notifications", token=org.agent.token).json == {
        **ALL_ON,
        "ticketCreated": False,
    }
    assert _one_click(client, link).status == 200  # idempotent
    assert _preference_audits(org, org.agent) == [
        {
            "actor": org.agent.id,
            "before": {"ticketCreated": True},
            "after": {"ticketCreated": False, "via": "unsubscribe"},
        }
    ]
    _ticket(client, org.requester, "Second")
    notify(app)
    assert [m.subject for m in inbox(org.agent.email)] == ["[New ticket] First"]
    assert len(inbox(org.admin.email)) == 2  # only the agent unsubscribed


# --- Failures ----------------------------------------------------------------------------------


def test_a_failing_send_keeps_the_api_call_and_ends_in_the_dead_letter_queue(
    app: Chalice, client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch, log_mark: int
) -> None:
    org: TestOrg = make_org()
    attempts: list[str] = []

    def failing_send(message: Any) -> str:
        attempts.append(message.kind)
        raise RuntimeError("SES is down")

    monkeypatch.setattr("chalicelib.notifications.sender.send", failing_send)
    ticket = _ticket(client, org.requester, "SES outage ticket")
    assert ticket["id"]
    notify(app)
    # Two recipients (agent, admin), each tried maxReceiveCount times, then dead-lettered.
    assert len(attempts) == 2 * queue.MAX_RECEIVE_COUNT
    dead = _dead_letters()
    assert sorted(json.loads(m["Body"])["user_id"] for m in dead) == sorted(
        [org.agent.id, org.admin.id]
    )
    assert sent_mail() == []
    failures = [line for line in lines_since(log_mark) if "notification not sent" in line]
    assert len(failures) == 2 * queue.MAX_RECEIVE_COUNT
    assert all("SES outage ticket" not in line for line in lines_since(log_mark))


def test_a_retried_notice_is_sent_once_ses_recovers(
    app: Chalice, client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.mail import send as real_send

    org: TestOrg = make_org()
    failures_left = [2]

    def flaky_send(message: Any) -> str:
        if failures_left[0] > 0:
            failures_left[0] -= 1
            raise RuntimeError("throttled")
        return real_send(message)

    monkeypatch.setattr("chalicelib.notifications.sender.send", flaky_send)
    _ticket(client, org.requester, "Flaky SES")
    notify(app)
    assert len(inbox(org.agent.email)) == 1 and len(inbox(org.admin.email)) == 1
    assert _dead_letters() == []


def test_a_failing_enqueue_never_fails_the_api_call(
    app: Chalice, client: Any, make_org: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    org: TestOrg = make_org()

    def refuse(notices: Any) -> int:
        raise queue.EnqueueFailed("queue unavailable")

    monkeypatch.setattr(queue, "enqueue", refuse)
    response = client.post(
        "/api/tickets", json={"subject": "Still created", "body": "x"}, token=org.requester.token
    )
    assert response.status == 201
    with pytest.raises(queue.EnqueueFailed):  # the stream batch fails and is retried
        notify(app)


# --- Organizations -----------------------------------------------------------------------------


def test_users_of_one_organization_never_receive_mail_about_another(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org_a: TestOrg = make_org()
    org_b: TestOrg = make_org()
    _ticket(client, org_b.requester, "Org B secret ticket")
    notify(app)
    for user in (org_a.admin, org_a.agent, org_a.requester):
        assert inbox(user.email) == []
    assert {mail.to for mail in sent_mail()} == {org_b.agent.email, org_b.admin.email}


def test_a_notice_naming_another_organizations_user_sends_nothing(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org_a: TestOrg = make_org()
    org_b: TestOrg = make_org()
    ticket = _ticket(client, org_b.requester, "Org B only")
    notify(app)
    before = len(sent_mail())
    forged = [
        Notice(org_b.id, org_a.agent.id, "ticketCreated", ticket["id"], "0" * 32),
        Notice(org_a.id, org_a.agent.id, "ticketCreated", ticket["id"], "0" * 32),
    ]
    queue.enqueue(forged)
    notify(app)
    assert len(sent_mail()) == before
    assert inbox(org_a.agent.email) == []


def test_a_bulk_assignment_is_mailed_to_the_assignee_once_per_ticket(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    first = _ticket(client, org.requester, "Bulk one")
    second = _ticket(client, org.requester, "Bulk two")
    notify(app)
    response = client.post(
        "/api/tickets/bulk",
        json={"action": "assign", "assigneeId": org.agent.id, "ids": [first["id"], second["id"]]},
        token=org.admin.token,
    )
    assert response.status == 200, response.body
    notify(app)
    assigned = sorted(m.subject for m in inbox(org.agent.email) if m.subject.startswith("[Ass"))
    assert assigned == ["[Assigned to you] Bulk one", "[Assigned to you] Bulk two"]
    assert [m for m in inbox(org.admin.email) if m.subject.startswith("[Ass")] == []


def test_a_ticket_with_a_group_is_announced_to_the_group_members_only(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    second_agent = org.add_user(org.agent.role)
    created = client.post("/api/admin/groups", json={"name": "Billing"}, token=org.admin.token)
    assert created.status == 201, created.body
    group = created.json
    members = client.put(
        f"/api/admin/groups/{group['id']}/members",
        json={"userIds": [second_agent.id]},
        token=org.admin.token,
    )
    assert members.status == 200, members.body
    register_sensitive("Billing question")
    create_ticket(
        client,
        org.agent,
        subject="Billing question",
        body="x",
        groupId=group["id"],
        requesterId=org.requester.id,
    )
    notify(app)
    assert [m.to for m in sent_mail()] == [second_agent.email]
    # An ungrouped ticket goes to every agent and admin but its author.
    _ticket(client, org.requester, "Other question")
    notify(app)
    assert len(inbox(org.agent.email)) == 1 and len(inbox(org.admin.email)) == 1
    assert len(inbox(second_agent.email)) == 2


def test_a_deactivated_agent_receives_nothing(app: Chalice, client: Any, make_org: Any) -> None:
    org: TestOrg = make_org()
    response = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"active": False}, token=org.admin.token
    )
    assert response.status == 200, response.body
    _ticket(client, org.requester, "Nobody inactive")
    notify(app)
    assert inbox(org.agent.email) == []
    assert len(inbox(org.admin.email)) == 1


def test_agents_limited_to_their_groups_are_mailed_only_about_tickets_they_may_see(
    app: Chalice, client: Any, make_org: Any
) -> None:
    org: TestOrg = make_org()
    member = org.add_user(org.agent.role)
    token = org.admin.token
    group = client.post("/api/admin/groups", json={"name": "Billing"}, token=token).json
    response = client.put(
        f"/api/admin/groups/{group['id']}/members", json={"userIds": [member.id]}, token=token
    )
    assert response.status == 200, response.body
    response = client.patch(
        "/api/admin/settings", json={"agentTicketVisibility": "groups"}, token=token
    )
    assert response.status == 200, response.body
    # Announced to every agent while ungrouped; moved into the group before the notices are
    # sent: the agent outside it can no longer read it and is not mailed.
    ticket = _ticket(client, org.requester, "Invoice twice")
    notification_pump.route_once(app)
    moved = patch(client, org.admin, ticket, groupId=group["id"])
    assert moved.status == 200, moved.body
    notify(app)
    assert inbox(org.agent.email) == []
    assert [m.subject for m in inbox(member.email)] == ["[New ticket] Invoice twice"]
    assert len(inbox(org.admin.email)) == 1  # admins see every ticket
    # A requester's reply on the unassigned grouped ticket goes to the group, not to all staff.
    assert comment(client, org.requester, ticket["id"], "Any news?").status == 201
    notify(app)
    assert inbox(org.agent.email) == []
    assert len(inbox(member.email)) == 2
    assert len(inbox(org.admin.email)) == 1


def test_a_notice_delivered_twice_is_mailed_once(app: Chalice, client: Any, make_org: Any) -> None:
    """SQS and the stream deliver at least once: the same notice again sends nothing."""
    from chalicelib.notifications import recipients
    from chalicelib.webhooks.models import EventModel

    org: TestOrg = make_org()
    _ticket(client, org.requester, "Once only")
    events = [e for e in EventModel.scan() if e.organization_id == org.id]
    notices = [n for event in events for n in recipients.notices_for(event)]
    assert {n.user_id for n in notices} == {org.agent.id, org.admin.id}
    notify(app)
    assert len(inbox(org.agent.email)) == 1
    queue.enqueue(notices)  # the router's batch, routed again
    notify(app)
    assert len(inbox(org.agent.email)) == 1 and len(inbox(org.admin.email)) == 1


def test_the_mailto_unsubscribe_turns_that_kind_off(
    app: Chalice, client: Any, make_org: Any
) -> None:
    """RFC 2369: a mail client that sends the `mailto:` of List-Unsubscribe (the subject as
    given) turns off that one kind; a forged or altered token changes nothing."""
    from urllib.parse import parse_qs, unquote

    from chalicelib.intake.service import ingest
    from tests.support import mail_corpus

    org: TestOrg = make_org()
    _ticket(client, org.requester, "Mailto first")
    notify(app)
    (mail,) = inbox(org.agent.email)
    header = mail.headers["List-Unsubscribe"]
    (mailto,) = [p.strip().strip("<>") for p in header.split(",") if "mailto:" in p]
    address, _, query = mailto.removeprefix("mailto:").partition("?")
    subject = unquote(parse_qs(query)["subject"][0])

    def send(subject: str) -> str:
        raw = mail_corpus.plain(org.agent.email, address, "", subject=subject)
        return ingest(raw, recipients=[address]).status

    assert send(subject[:-3] + "abc") == "DROPPED"  # altered token
    assert send("unsubscribe") == "DROPPED"
    assert client.get("/api/me/notifications", token=org.agent.token).json == ALL_ON
    assert send(subject) == "UNSUBSCRIBED"
    assert client.get("/api/me/notifications", token=org.agent.token).json == {
        **ALL_ON,
        "ticketCreated": False,
    }
    assert _preference_audits(org, org.agent)[0]["after"] == {
        "ticketCreated": False,
        "via": "unsubscribe",
    }
    _ticket(client, org.requester, "Mailto second")
    notify(app)
    assert [m.subject for m in inbox(org.agent.email)] == ["[New ticket] Mailto first"]
