"""Attachments end to end in-process: presigned POST -> S3 (moto) -> scan handler with a real
ClamAV -> status, tags, quarantine, download redirect, delete, audit records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
import requests

from chalicelib.audit.models import AuditRecordModel
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings, override
from tests.support.attachments import (
    deliver_created,
    path,
    policy_of,
    post_to_s3,
    request_upload,
    upload_and_scan,
)
from tests.support.av import EICAR, EXE_BYTES, SIGNATURE_NAME, pdf_bytes
from tests.support.events import security_events
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.usefixtures("scanner_settings")


def _tags(bucket: str, key: str) -> dict[str, str]:
    tagging = boto3.client("s3").get_object_tagging(Bucket=bucket, Key=key)
    return {tag["Key"]: tag["Value"] for tag in tagging["TagSet"]}


def _audit_actions(org_id: str) -> list[str]:
    """The organization's audited attachment actions (after make_org's user.create records and
    the test ticket's ticket.create)."""
    return [
        record.action
        for record in AuditRecordModel.query(org_pk(org_id), AuditRecordModel.sk.startswith("REC#"))
        if record.action not in {"user.create", "ticket.create"}
    ]


def test_clean_pdf_is_clean_and_downloadable(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    content = pdf_bytes()
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "Quote ü.pdf", "application/pdf", content
    )
    assert result["status"] == "CLEAN"
    assert result["sniffedType"] == "application/pdf" and result["size"] == len(content)
    settings = get_settings()
    tags = _tags(settings.uploads_bucket, result["key"])
    assert tags["av-status"] == "CLEAN" and tags["av-scanned-at"].endswith("Z")

    for user in (org.requester, org.agent):
        download = client.get(path(ticket_id, result["id"], "/download"), token=user.token)
        assert download.status == 302
        location = download.header("Location")
        query = parse_qs(urlparse(location).query)
        assert query["response-content-disposition"][0].startswith(
            'attachment; filename="Quote u.pdf"'
        )
        assert query["response-content-type"] == ["application/pdf"]
        assert int(query["X-Amz-Expires"][0]) == settings.attachment_download_expiry_seconds
        assert "versionId" in query
        fetched = requests.get(location, timeout=30)
        assert fetched.status_code == 200 and fetched.content == content

    listed = client.get(path(ticket_id), token=org.agent.token)
    assert listed.status == 200
    assert [item["id"] for item in listed.json["items"]] == [result["id"]]
    assert listed.json["nextCursor"] is None
    assert _audit_actions(org.id) == ["attachment.upload_requested", "attachment.scan_result"]


def test_eicar_is_infected_quarantined_and_never_downloadable(
    app: Any, client: Any, make_org: Callable[..., TestOrg], caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "invoice.txt", "text/plain", EICAR
    )
    assert result["status"] == "INFECTED"
    assert result["signature"].startswith(SIGNATURE_NAME)
    settings = get_settings()
    s3 = boto3.client("s3")
    # Gone from the uploads bucket (every version), present and tagged in quarantine.
    versions = s3.list_object_versions(Bucket=settings.uploads_bucket, Prefix=result["key"])
    assert not versions.get("Versions")
    quarantined = f"infected/{result['key']}"
    assert s3.get_object(Bucket=settings.quarantine_bucket, Key=quarantined)["Body"].read() == EICAR
    tags = _tags(settings.quarantine_bucket, quarantined)
    assert tags["av-status"] == "INFECTED" and tags["av-signature"].startswith(SIGNATURE_NAME)

    for user in (org.requester, org.agent, org.admin):
        download = client.get(path(ticket_id, result["id"], "/download"), token=user.token)
        assert download.status == 409
        assert download.json["error"]["code"] == "CONFLICT"
        assert "INFECTED" in download.json["error"]["message"]
        assert download.header("Location") is None

    events = security_events(caplog, "security.malware_detected")
    assert len(events) == 1
    assert events[0]["attachment_id"] == result["id"]
    assert events[0]["organization_id"] == org.id
    assert events[0]["signature"].startswith(SIGNATURE_NAME)
    assert events[0]["user_id"] == org.requester.id


def test_executable_renamed_png_is_rejected(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "cat.png", "image/png", EXE_BYTES
    )
    assert result["status"] == "REJECTED"
    assert result["reason"] == "type"
    assert result["sniffedType"] == "application/x-executable"
    download = client.get(path(ticket_id, result["id"], "/download"), token=org.agent.token)
    assert download.status == 409
    assert "REJECTED" in download.json["error"]["message"]
    settings = get_settings()
    assert _tags(settings.quarantine_bucket, f"rejected/{result['key']}")["av-status"] == (
        "REJECTED"
    )


def test_presigned_post_policy_pins_key_type_size_and_encryption(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    created = request_upload(client, org.requester, ticket_id, "a.pdf", "application/pdf", 10)
    assert created.status == 201
    assert created.json["status"] == "PENDING_SCAN"
    upload = created.json["upload"]
    conditions = policy_of(upload)["conditions"]
    key = upload["fields"]["key"]
    assert key == f"org/{org.id}/ticket/{ticket_id}/{created.json['id']}"
    assert {"key": key} in conditions
    assert {"bucket": get_settings().uploads_bucket} in conditions
    assert ["eq", "$Content-Type", "application/pdf"] in conditions
    assert ["eq", "$x-amz-server-side-encryption", "AES256"] in conditions
    assert ["content-length-range", 1, get_settings().attachment_max_bytes] in conditions
    # Every form field is covered by a condition (S3 refuses unlisted fields).
    covered = {c[1].lstrip("$") for c in conditions if isinstance(c, list) and c[0] == "eq"}
    covered |= {name for c in conditions if isinstance(c, dict) for name in c}
    assert set(upload["fields"]) - {"policy", "x-amz-signature"} <= covered


def test_oversized_object_is_refused_by_policy_and_rejected_by_the_scanner(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    """moto does not enforce `content-length-range` (checked: it stores any size), so this
    asserts the policy S3 enforces and shows the scanner's own size check as a second line."""
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    with override(attachment_max_bytes=1024):
        too_big = request_upload(
            client, org.requester, ticket_id, "big.pdf", "application/pdf", 1025
        )
        assert too_big.status == 400
        assert too_big.json["error"]["details"][0]["field"] == "size"
        created = request_upload(
            client, org.requester, ticket_id, "big.pdf", "application/pdf", 1000
        )
        upload = created.json["upload"]
        assert ["content-length-range", 1, 1024] in policy_of(upload)["conditions"]
        assert post_to_s3(upload, pdf_bytes() + b"%" * 2000) == 204  # moto: not enforced
        deliver_created(app, upload["fields"]["key"])
    fetched = client.get(path(ticket_id, created.json["id"]), token=org.requester.token)
    assert (fetched.json["status"], fetched.json["reason"]) == ("REJECTED", "size")


def test_declared_size_must_match_actual_size(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    created = request_upload(client, org.requester, ticket_id, "a.pdf", "application/pdf", 99)
    post_to_s3(created.json["upload"], pdf_bytes())
    deliver_created(app, created.json["upload"]["fields"]["key"])
    fetched = client.get(path(ticket_id, created.json["id"]), token=org.requester.token)
    assert (fetched.json["status"], fetched.json["reason"]) == ("REJECTED", "size")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "../../etc/passwd"),
        ("filename", "a\x00.pdf"),
        ("filename", "x" * 300 + ".pdf"),
        ("filename", "a/b.pdf"),
        ("contentType", "text/html"),
        ("contentType", "application/x-msdownload"),
        ("size", 0),
        ("size", -1),
    ],
)
def test_invalid_upload_requests_are_400(
    client: Any, make_org: Callable[..., TestOrg], field: str, value: Any
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    body: dict[str, Any] = {"filename": "a.pdf", "contentType": "application/pdf", "size": 10}
    body[field] = value
    response = client.post(path(ticket_id), json=body, token=org.requester.token)
    assert response.status == 400, response.body
    assert response.json["error"]["code"] == "VALIDATION_ERROR"
    assert field in {detail["field"] for detail in response.json["error"]["details"]}
    listed = client.get(path(ticket_id), token=org.agent.token)
    assert listed.json["items"] == []


def test_pending_attachment_is_not_downloadable(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    created = request_upload(client, org.requester, ticket_id, "a.pdf", "application/pdf", 10)
    post_to_s3(created.json["upload"], b"%PDF-1.4\n%%")  # uploaded, not scanned yet
    download = client.get(path(ticket_id, created.json["id"], "/download"), token=org.agent.token)
    assert download.status == 409
    assert download.json["error"]["details"] == [{"field": "status", "message": "PENDING_SCAN"}]


def test_delete_removes_object_and_record_and_is_audited(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    result = upload_and_scan(
        app, client, org.requester, ticket_id, "a.pdf", "application/pdf", pdf_bytes()
    )
    other_requester = org.add_user(org.requester.role)
    # A requester who cannot see the ticket: 404; the uploader and staff may delete.
    assert client.delete(path(ticket_id, result["id"]), token=other_requester.token).status == 404
    deleted = client.delete(path(ticket_id, result["id"]), token=org.requester.token)
    assert deleted.status == 204
    assert client.get(path(ticket_id, result["id"]), token=org.agent.token).status == 404
    assert client.delete(path(ticket_id, result["id"]), token=org.agent.token).status == 404
    versions = boto3.client("s3").list_object_versions(
        Bucket=get_settings().uploads_bucket, Prefix=result["key"]
    )
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    assert _audit_actions(org.id)[-1] == "attachment.deleted"


def test_requester_cannot_delete_staff_upload(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    result = upload_and_scan(
        app, client, org.agent, ticket_id, "fix.pdf", "application/pdf", pdf_bytes()
    )
    response = client.delete(path(ticket_id, result["id"]), token=org.requester.token)
    assert response.status == 403
    assert client.get(path(ticket_id, result["id"]), token=org.requester.token).status == 200


def test_list_pages_with_cursor(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    ids = [
        request_upload(client, org.requester, ticket_id, f"{i}.pdf", "application/pdf", 5).json[
            "id"
        ]
        for i in range(3)
    ]
    first = client.get(path(ticket_id) + "?limit=2", token=org.agent.token).json
    assert [item["id"] for item in first["items"]] == ids[:2]
    second = client.get(
        path(ticket_id) + f"?limit=2&cursor={first['nextCursor']}", token=org.agent.token
    ).json
    assert [item["id"] for item in second["items"]] == ids[2:]
    assert second["nextCursor"] is None
    for bad in ("limit=0", "limit=101", "limit=x", "cursor=%2E%2E"):
        response = client.get(path(ticket_id) + f"?{bad}", token=org.agent.token)
        assert response.status == 400, bad
