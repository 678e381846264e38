"""The scanner's trigger: uploads bucket -> EventBridge rule -> `scan_attachment`.

`chalice package` cannot wire `@on_s3_event`, so the scanner is a plain Lambda function that the
template's EventBridge rule invokes. These tests check that the rule, the event the local stack
delivers and the event the function parses are the same shape, so a renamed field cannot leave
uploads unscanned in AWS while every local test stays green.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from chalice.test import Client as LambdaClient

from chalicelib.api.attachment_scanning import created_object
from chalicelib.core.settings import get_settings
from devstack.s3_events import object_created_event
from infra import stages
from infra.resources import SCANNER_FUNCTION, function_logical_id, load_app
from infra.template import build_template


def _matches(pattern: Any, event: Any) -> bool:
    """EventBridge's matching for the pattern forms the template uses (exact values in lists,
    nested objects)."""
    if isinstance(pattern, dict):
        return isinstance(event, dict) and all(
            key in event and _matches(value, event[key]) for key, value in pattern.items()
        )
    return isinstance(pattern, list) and event in pattern


def _entry(key: str, version: str = "v-1") -> dict[str, Any]:
    return {"Key": key, "Size": 10, "ETag": '"abc"', "VersionId": version}


def test_scanner_is_a_plain_function_chalice_can_package() -> None:
    app = load_app()
    assert SCANNER_FUNCTION in {f.name for f in app.pure_lambda_functions}
    # No S3 event source (`chalice package` refuses them); the schedules stay (the scanner's
    # two, the audit checkpoint sweep, the webhook retry sweep and the SLA breach sweep).
    assert {s.name for s in app.event_sources} == {
        "retry_attachment_scans",
        "refresh_av_definitions",
        "checkpoint_audit_chains",
        "retry_webhook_deliveries",
        "sweep_sla_breaches",
    }


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_rule_matches_the_uploads_events_and_targets_the_scanner(stage: str) -> None:
    template = build_template(stage)
    resources = template["Resources"]
    uploads = stages.stage_settings(stage).uploads_bucket
    assert resources["UploadsBucket"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    rule = resources["UploadCreatedRule"]["Properties"]
    function = function_logical_id(SCANNER_FUNCTION)
    assert rule["Targets"] == [{"Id": "scanner", "Arn": {"Fn::GetAtt": [function, "Arn"]}}]
    permission = resources["UploadCreatedInvokePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["UploadCreatedRule", "Arn"]}

    pattern = rule["EventPattern"]
    created = object_created_event(uploads, _entry("org/o/ticket/t/a"), "eu-west-1")
    assert _matches(pattern, created)
    other_bucket = object_created_event(f"{uploads}-other", _entry("k"), "eu-west-1")
    deleted = {**created, "detail-type": "Object Deleted"}
    assert not _matches(pattern, other_bucket)
    assert not _matches(pattern, deleted)


def test_the_function_reads_bucket_decoded_key_and_version() -> None:
    event = object_created_event(
        "b", _entry("org/o 1/ticket/t+x/a", "3HL4kqtJlcpXroDTDmJ+rmSpXd"), "r"
    )
    assert event["detail"]["object"]["key"] == "org/o+1/ticket/t%2Bx/a"  # encoded like S3's
    assert created_object(event) == ("b", "org/o 1/ticket/t+x/a", "3HL4kqtJlcpXroDTDmJ+rmSpXd")
    del event["detail"]["object"]["version-id"]  # unversioned bucket
    assert created_object(event) == ("b", "org/o 1/ticket/t+x/a", None)
    for wrong in (
        {**event, "detail-type": "Object Deleted"},
        {**event, "source": "deskguard.fake"},
        {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        {**event, "detail": {"bucket": {"name": "b"}}},
        {},
    ):
        assert created_object(wrong) is None


def test_only_object_created_events_make_the_scanner_act(app: Any) -> None:
    """An orphan object (no attachment owns it) is deleted on "Object Created"; any other event
    invoking the function changes nothing."""
    s3 = boto3.client("s3", region_name=get_settings().region)
    bucket = get_settings().uploads_bucket
    key = "org/acme/ticket/t1/orphan"
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"payload")
    entry = {**_entry(key, put["VersionId"]), "Size": 7}
    created = object_created_event(bucket, entry, get_settings().region)
    with LambdaClient(app) as lambda_client:
        for ignored in (
            {**created, "detail-type": "Object Deleted"},
            {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
        ):
            assert lambda_client.lambda_.invoke(SCANNER_FUNCTION, ignored).payload == []
        assert s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
        result = lambda_client.lambda_.invoke(SCANNER_FUNCTION, created).payload
    assert result == [{"action": "deleted_orphan", "status": None, "attachmentId": None}]
    assert not s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions")
