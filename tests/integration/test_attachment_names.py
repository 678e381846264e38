"""What a CLEAN verdict serves: a name whose extension desktops run or render is refused when
the upload is requested, REJECTED if a stored record carries one, and text that hides a binary
after its first 8 KiB is not text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from chalicelib.attachments.models import AttachmentItem, attachment_sk
from chalicelib.core.org_keys import org_pk
from tests.support.attachments import (
    deliver_created,
    path,
    post_to_s3,
    request_upload,
    upload_and_scan,
)
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.usefixtures("scanner_settings")

INVOICE_TEXT = b"Invoice 2024-117\r\nTotal: 120 EUR\r\n"


@pytest.mark.parametrize(
    "name", ["invoice.bat", "invoice.hta", "invoice.vbs", "invoice.js", "invoice.html", "a.exe"]
)
def test_dangerous_extension_is_refused_at_create(
    client: Any, make_org: Callable[..., TestOrg], name: str
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    response = request_upload(
        client, org.requester, ticket_id, name, "text/plain", len(INVOICE_TEXT)
    )
    assert response.status == 400
    assert response.json["error"]["details"][0]["field"] == "filename"
    assert client.get(path(ticket_id), token=org.agent.token).json["items"] == []


def test_extension_of_another_type_is_refused_at_create(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    response = request_upload(client, org.requester, ticket_id, "scan.png", "application/pdf", 10)
    assert response.status == 400
    assert "extension" in response.json["error"]["details"][0]["message"]


def test_a_stored_record_with_a_dangerous_name_is_rejected_at_scan(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    """A record that reached the table with such a name (written before the rule existed) is
    never served: the scan rejects it even though the bytes are clean text."""
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    created = request_upload(
        client, org.requester, ticket_id, "invoice.txt", "text/plain", len(INVOICE_TEXT)
    )
    aid = created.json["id"]
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    record.update(actions=[AttachmentItem.filename.set("invoice.bat")])
    post_to_s3(created.json["upload"], INVOICE_TEXT)
    deliver_created(app, created.json["upload"]["fields"]["key"])
    fetched = client.get(path(ticket_id, aid), token=org.agent.token).json
    assert (fetched["status"], fetched["reason"]) == ("REJECTED", "extension")
    assert client.get(path(ticket_id, aid, "/download"), token=org.agent.token).status == 409


def test_text_followed_by_an_executable_is_rejected(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    content = b"harmless line\n" * 700 + b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 120
    assert len(content) > 8192
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "notes.txt", "text/plain", content
    )
    assert (result["status"], result["reason"]) == ("REJECTED", "type")
    assert result["sniffedType"] == "application/octet-stream"


def test_clean_text_downloads_under_its_own_name(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "invoice.txt", "text/plain", INVOICE_TEXT
    )
    assert result["status"] == "CLEAN"
    download = client.get(path(ticket_id, result["id"], "/download"), token=org.agent.token)
    disposition = parse_qs(urlparse(download.header("Location")).query)[
        "response-content-disposition"
    ][0]
    assert disposition.startswith('attachment; filename="invoice.txt";')
