"""Response models are the serializers: what `dump` writes, and what a body may not carry."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from chalicelib.core.cursors import Page
from chalicelib.tickets.models import Comment, Ticket
from chalicelib.tickets.schemas import CommentOut, TicketOut

TICKET = Ticket(
    id="a" * 32,
    organization_id="acme",
    subject="VPN down",
    body_markdown="**down**",
    body_html="<p><strong>down</strong></p>",
    status="OPEN",
    priority="HIGH",
    requester_id="b" * 32,
    assignee_id=None,
    tags=("vpn",),
    version=2,
    created_at="2026-01-01T00:00:00.000+00:00",
    updated_at="2026-01-02T00:00:00.000+00:00",
    submitter_id="c" * 32,
    requester_name="Pat Customer",
)


def test_a_ticket_dumps_to_the_contract_body() -> None:
    assert TicketOut.dump(TICKET) == {
        "id": "a" * 32,
        "organizationId": "acme",
        "subject": "VPN down",
        "bodyHtml": "<p><strong>down</strong></p>",
        "bodyMarkdown": "**down**",
        "status": "OPEN",
        "priority": "HIGH",
        "requesterId": "b" * 32,
        "requesterName": "Pat Customer",
        "submitterId": "c" * 32,
        "assigneeId": None,
        "assigneeName": None,
        "tags": ["vpn"],
        "version": 2,
        "createdAt": "2026-01-01T00:00:00.000+00:00",
        "updatedAt": "2026-01-02T00:00:00.000+00:00",
        "firstRespondedAt": None,
        "followUpOf": None,
        "mergedInto": None,
        "mergedFrom": [],
        "groupId": None,
        "firstResponseDueAt": None,
        "resolutionDueAt": None,
        "slaState": None,
    }


def test_a_domain_attribute_the_model_does_not_declare_stays_out() -> None:
    comment = Comment("c" * 32, "a" * 32, "acme", "b" * 32, True, "x", "<p>x</p>", "t")
    body = CommentOut.dump(comment)
    assert "organizationId" not in body and "organization_id" not in body
    assert body["internal"] is True and body["ticketId"] == "a" * 32


def test_a_page_dumps_items_and_the_next_cursor() -> None:
    assert Page([TICKET], "next").dump(TicketOut) == {
        "items": [TicketOut.dump(TICKET)],
        "nextCursor": "next",
    }
    assert Page([], None).dump(TicketOut) == {"items": [], "nextCursor": None}


def test_as_an_oracle_a_model_takes_only_the_json_names() -> None:
    body = TicketOut.dump(TICKET)
    TicketOut.model_validate_json(json.dumps(body), strict=True)
    snake = {**body, "organization_id": body["organizationId"]}
    del snake["organizationId"]
    with pytest.raises(ValidationError):
        TicketOut.model_validate_json(json.dumps(snake), strict=True)
    with pytest.raises(ValidationError):
        TicketOut.model_validate_json(json.dumps({**body, "passwordHash": "x"}), strict=True)


def test_a_value_outside_the_model_is_refused_rather_than_sent() -> None:
    with pytest.raises(ValidationError):
        TicketOut.dump(Ticket(**{**TICKET.__dict__, "status": "DELETED"}))
