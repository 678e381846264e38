"""Attacks on attachments: other organizations, engine failure, re-upload after a verdict,
objects nobody asked for, and API tokens without the attachments scope."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
import requests

from chalicelib.attachments.models import AttachmentItem, attachment_sk
from chalicelib.attachments.scanning.definitions import default_engine
from chalicelib.attachments.scanning.pipeline import ScanFailed, retry_due_scans
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
from tests.support.av import EICAR, pdf_bytes
from tests.support.events import security_events
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.usefixtures("scanner_settings")


def _status(org_id: str, ticket_id: str, attachment_id: str) -> str:
    record = AttachmentItem.get(org_pk(org_id), attachment_sk(ticket_id, attachment_id))
    return str(record.status)


def test_other_organization_can_do_nothing_with_attachments(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org_a, org_b = make_org(), make_org()
    ticket_a = create_ticket(client, org_a.requester)["id"]
    ticket_b = create_ticket(client, org_b.requester)["id"]
    content = pdf_bytes()
    result = upload_and_scan(
        app, client, org_a.requester, ticket_a, "secret.pdf", "application/pdf", content
    )
    assert result["status"] == "CLEAN"
    aid, key = result["id"], result["key"]

    for intruder in (org_b.admin, org_b.agent, org_b.requester):
        token = intruder.token
        attempts = [
            request_upload(client, intruder, ticket_a, "x.pdf", "application/pdf", 10),
            client.get(path(ticket_a), token=token),
            client.get(path(ticket_a, aid), token=token),
            client.get(path(ticket_a, aid, "/download"), token=token),
            client.delete(path(ticket_a, aid), token=token),
            # Org A's attachment id under the intruder's own ticket, and the raw S3 key as id.
            client.get(path(ticket_b, aid), token=token),
            client.get(path(ticket_b, aid, "/download"), token=token),
            client.delete(path(ticket_b, aid), token=token),
            client.get(path(ticket_b, quote(key, safe="")), token=token),
            client.get(path(ticket_a, quote(key, safe=""), "/download"), token=token),
        ]
        for response in attempts:
            assert response.status == 404, response.body
            assert response.json["error"]["code"] == "NOT_FOUND"
    # Nothing changed for org A.
    assert client.get(path(ticket_a, aid), token=org_a.agent.token).json["status"] == "CLEAN"
    download = client.get(path(ticket_a, aid, "/download"), token=org_a.agent.token)
    assert requests.get(download.header("Location"), timeout=30).content == content


def test_other_organization_cannot_overwrite_an_object_with_its_own_upload_grant(
    app: Any, client: Any, make_org: Callable[..., TestOrg], caplog: pytest.LogCaptureFixture
) -> None:
    """Org B knows org A's S3 key and swaps it into its own presigned form. S3 refuses that
    (the policy pins B's key); moto does not enforce policies, so the object lands here, and the
    scan function must still never let it replace A's scanned file."""
    org_a, org_b = make_org(), make_org()
    ticket_a, ticket_b = (
        create_ticket(client, org_a.requester)["id"],
        create_ticket(client, org_b.requester)["id"],
    )
    content = pdf_bytes("original")
    result = upload_and_scan(
        app, client, org_a.requester, ticket_a, "a.pdf", "application/pdf", content
    )
    grant = request_upload(client, org_b.requester, ticket_b, "b.pdf", "application/pdf", 68)
    upload = grant.json["upload"]
    assert {"key": result["key"]} not in policy_of(upload)["conditions"]
    assert post_to_s3(upload, EICAR, key=result["key"]) == 204
    deliver_created(app, result["key"])

    assert _status(org_a.id, ticket_a, result["id"]) == "CLEAN"
    download = client.get(path(ticket_a, result["id"], "/download"), token=org_a.agent.token)
    assert requests.get(download.header("Location"), timeout=30).content == content
    versions = boto3.client("s3").list_object_versions(
        Bucket=get_settings().uploads_bucket, Prefix=result["key"]
    )["Versions"]
    assert len(versions) == 1  # the intruding version was deleted
    events = security_events(caplog, "security.suspicious_activity")
    assert [e["reason"] for e in events] == ["reupload_after_verdict"]


def test_object_without_an_attachment_record_is_deleted_and_logged(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = boto3.client("s3")
    bucket = get_settings().uploads_bucket
    for key in ("dropped/payload.exe", "org/acme/ticket/abc/def"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"MZ...")
        deliver_created(app, key)
        assert not s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
    events = security_events(caplog, "security.suspicious_activity")
    assert [e["reason"] for e in events] == ["object_without_attachment"] * 2
    assert events[0]["object_key"] == "dropped/payload.exe"


@pytest.mark.parametrize("failure", ["binary_missing", "timeout", "no_definitions"])
def test_engine_failure_never_yields_clean(
    app: Any, client: Any, make_org: Callable[..., TestOrg], tmp_path: Path, failure: str
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    content = pdf_bytes()
    created = request_upload(
        client, org.requester, ticket_id, "a.pdf", "application/pdf", len(content)
    )
    aid, key = created.json["id"], created.json["upload"]["fields"]["key"]
    post_to_s3(created.json["upload"], content)
    broken: dict[str, Any] = {
        "binary_missing": {"clamd_command": (str(tmp_path / "missing-clamd"),)},
        "timeout": {"scan_timeout_seconds": 0},
        "no_definitions": {"clamav_definitions_dir": str(tmp_path / "empty")},
    }[failure]
    with override(**broken), pytest.raises(ScanFailed):
        deliver_created(app, key)  # raises, so Lambda's async retries run too

    fetched = client.get(path(ticket_id, aid), token=org.agent.token).json
    assert (fetched["status"], fetched["reason"]) == ("ERROR", "engine_error")
    tags = boto3.client("s3").get_object_tagging(Bucket=get_settings().uploads_bucket, Key=key)
    assert {t["Key"]: t["Value"] for t in tags["TagSet"]}["av-status"] == "ERROR"
    download = client.get(path(ticket_id, aid, "/download"), token=org.agent.token)
    assert download.status == 409 and download.header("Location") is None

    # The retry path: once due, the sweep rescans; still broken -> still ERROR, never CLEAN.
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    assert record.retry_queue == "SCAN_RETRY"
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    record.update(actions=[AttachmentItem.retry_at.set(past)])
    with override(**broken):
        outcomes = retry_due_scans(default_engine)
    assert [(o.action, o.status) for o in outcomes] == [("retry_failed", "ERROR")]
    assert _status(org.id, ticket_id, aid) == "ERROR"

    # Engine repaired: the sweep decides, and the attachment leaves the retry queue.
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    record.update(actions=[AttachmentItem.retry_at.set(past)])
    assert [o.status for o in retry_due_scans(default_engine)] == ["CLEAN"]
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    assert record.status == "CLEAN" and record.retry_queue is None
    assert record.scan_attempts == 3


# A "daemon" that answers PING and says `stream: OK` to every stream without scanning anything
# (the wrong binary configured, or a compromised one). The engine's version probe catches it.
_ALWAYS_OK_DAEMON = """
import socket, sys
config = dict(
    line.split(" ", 1) for line in open(sys.argv[1].split("=", 1)[1]).read().splitlines() if line
)
server = socket.socket(socket.AF_UNIX)
server.bind(config["LocalSocket"])
server.listen(8)
while True:
    conn, _ = server.accept()
    command = conn.recv(16)
    conn.sendall(b"PONG\\0" if command.startswith(b"zPING") else b"stream: OK\\0")
    conn.close()
"""


@pytest.mark.parametrize("daemon", ["exits_at_once", "says_ok_to_everything"])
def test_a_daemon_that_does_not_really_scan_is_not_clean(
    app: Any, client: Any, make_org: Callable[..., TestOrg], tmp_path: Path, daemon: str
) -> None:
    fake = tmp_path / "clamd"
    if daemon == "exits_at_once":
        fake.write_text("#!/bin/sh\nexit 0\n")
    else:
        fake.write_text(f"#!{sys.executable}\n{_ALWAYS_OK_DAEMON}")
    fake.chmod(0o755)
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    created = request_upload(client, org.requester, ticket_id, "a.txt", "text/plain", 68)
    post_to_s3(created.json["upload"], EICAR)
    with (
        override(clamd_command=(str(fake),), clamd_startup_timeout_seconds=5),
        pytest.raises(ScanFailed),
    ):
        deliver_created(app, created.json["upload"]["fields"]["key"])
    assert _status(org.id, ticket_id, created.json["id"]) == "ERROR"


def test_api_token_scopes_gate_attachment_routes(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    from chalicelib.authz.policy import rule_for

    assert rule_for("POST", "/api/tickets/{ticket_id}/attachments").scope == "attachments:write"
    assert (
        rule_for("DELETE", "/api/tickets/{ticket_id}/attachments/{attachment_id}").scope
        == "attachments:write"
    )
    for route in (
        "/api/tickets/{ticket_id}/attachments",
        "/api/tickets/{ticket_id}/attachments/{attachment_id}",
        "/api/tickets/{ticket_id}/attachments/{attachment_id}/download",
    ):
        assert rule_for("GET", route).scope == "tickets:read"


def test_every_attachment_route_is_in_the_policy(app: Any) -> None:
    from chalicelib.authz.policy import POLICY

    routes = {
        (method, path)
        for path, entries in app.routes.items()
        if "/attachments" in path
        for method in entries
        if method != "OPTIONS"  # CORS preflights: public by design
    }
    assert len(routes) == 5
    assert routes <= set(POLICY)
