"""Shared steps of the attachment tests: a ticket, an upload through the presigned POST, and the
EventBridge "Object Created" event delivered to the real `scan_attachment` Lambda function."""

from __future__ import annotations

import atexit
import base64
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
import requests
from chalice.test import Client as LambdaClient

from chalicelib.attachments.scanning.definitions import stop_resident_engine
from chalicelib.core.settings import get_settings, override
from chalicelib.tickets.models import TicketModel
from tests.avtools import build_signature_db
from tests.factories import TestUser


@pytest.fixture(scope="session")
def signature_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_signature_db(tmp_path_factory.mktemp("clamav-db"))


@functools.cache
def clamd_work_dir() -> str:
    """A private work directory for the test run's resident clamd (short: it holds the unix
    socket); the daemon is stopped and the directory removed at exit."""
    work = tempfile.mkdtemp(prefix="clamd-", dir="/tmp")

    def cleanup() -> None:
        stop_resident_engine()
        shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)
    return work


@pytest.fixture
def scanner_settings(signature_db: Path) -> Iterator[None]:
    with override(
        clamav_definitions_dir=str(signature_db),
        clamav_definitions_from_s3=False,
        clamd_work_dir=clamd_work_dir(),
    ):
        yield


def make_ticket(requester: TestUser) -> str:
    item = TicketModel.new(
        requester.organization_id,
        requester_id=requester.id,
        subject="Attachment test",
        body_markdown="See attached.",
        body_html="<p>See attached.</p>",
        now="2025-01-01T00:00:00.000+00:00",
    )
    item.save()
    return str(item.ticket_id)


def path(ticket_id: str, attachment_id: str | None = None, suffix: str = "") -> str:
    base = f"/api/tickets/{ticket_id}/attachments"
    return f"{base}/{attachment_id}{suffix}" if attachment_id else base


def request_upload(  # noqa: PLR0917 (test step helper)
    client: Any, user: TestUser, ticket_id: str, filename: str, content_type: str, size: int
) -> Any:
    return client.post(
        path(ticket_id),
        json={"filename": filename, "contentType": content_type, "size": size},
        token=user.token,
    )


def post_to_s3(upload: dict[str, Any], content: bytes, **field_changes: str) -> int:
    fields = {**upload["fields"], **field_changes}
    response = requests.post(
        upload["url"], data=fields, files={"file": ("upload", content)}, timeout=30
    )
    return response.status_code


def policy_of(upload: dict[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(upload["fields"]["policy"]))
    return policy


def deliver_created(app: Any, key: str) -> Any:
    """Invoke the deployed-shape handler with S3's EventBridge "Object Created" event for the
    key's current version, as the uploads bucket's EventBridge rule does in AWS."""
    bucket = get_settings().uploads_bucket
    head = boto3.client("s3", region_name=get_settings().region).head_object(Bucket=bucket, Key=key)
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket},
        "object": {
            "key": quote_plus(key, safe="/"),  # URL-encoded like S3's events
            "size": head["ContentLength"],
            "etag": head["ETag"].strip('"'),
            "sequencer": "0064D3901D00059242",
        },
        "request-id": "N4N7GDK58NMKJ12R",
        "requester": "123456789012",
        "source-ip-address": "203.0.113.7",
        "reason": "POST Object",
    }
    if head.get("VersionId"):  # the uploads bucket is versioned: S3 names the new version
        detail["object"]["version-id"] = head["VersionId"]
    with LambdaClient(app) as lambda_client:
        event = lambda_client.events.generate_cw_event(
            source="aws.s3",
            detail_type="Object Created",
            detail=detail,
            resources=[f"arn:aws:s3:::{bucket}"],
            region=get_settings().region,
        )
        return lambda_client.lambda_.invoke("scan_attachment", event)


def upload_and_scan(  # noqa: PLR0917 (test step helper)
    app: Any,
    client: Any,
    user: TestUser,
    ticket_id: str,
    filename: str,
    content_type: str,
    content: bytes,
) -> dict[str, Any]:
    created = request_upload(client, user, ticket_id, filename, content_type, len(content))
    assert created.status == 201, created.body
    assert post_to_s3(created.json["upload"], content) == 204
    key = created.json["upload"]["fields"]["key"]
    deliver_created(app, key)
    fetched = client.get(path(ticket_id, created.json["id"]), token=user.token)
    assert fetched.status == 200
    result: dict[str, Any] = {**fetched.json, "key": key}
    return result


def security_events(caplog: pytest.LogCaptureFixture, category: str) -> list[dict[str, Any]]:
    """The security event log records of a category (their structured fields)."""
    return [
        dict(record.__dict__)
        for record in caplog.records
        if getattr(record, "category", None) == category
    ]
