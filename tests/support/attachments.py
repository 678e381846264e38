"""The attachment factory and its steps: an upload requested through the API, the file posted to
S3 with the presigned POST, and the EventBridge "Object Created" event delivered to the real
`scan_attachment` Lambda function (`upload_and_scan` does all three)."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote_plus

import boto3
import requests
from chalice.test import Client as LambdaClient

from chalicelib.core.settings import get_settings
from tests.support.orgs import TestUser


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
