"""The chalice-deploy path against moto: the data stack (`make infra`), the stage's generated
Chalice config, and the post-deploy step (`make post-deploy`), which must change nothing when
run twice and restore what a redeploy resets.

The REST API is imported from the Swagger document Chalice itself generates for the app (what
`chalice deploy` sends to `ImportRestApi`); moto's gaps on that path are filled by
`tests.support.moto_gaps` (each one named there). The full `chalice deploy` CLI run against a
moto server is in docs/deploy.md (it packages from PyPI, so it is not part of the suite).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.deploy.swagger import SwaggerGenerator

from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from infra import chalice_stage, data_stack, post_deploy, stages
from infra.resources import FUNCTION_POLICIES, SCANNER_FUNCTIONS, app_functions, load_app
from infra.template import build_template
from tests.support import moto_gaps

STAGE = "dev"
REGION = "us-east-1"
DATA_TYPES_ONLY = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SecretsManager::Secret",
    "AWS::SQS::Queue",
    "AWS::SNS::Topic",
    "AWS::Events::EventBus",
    "AWS::CloudWatch::Alarm",
    "AWS::CloudWatch::Dashboard",
    "AWS::Logs::LogGroup",
    "AWS::SES::ReceiptRuleSet",  # SES stores inbound mail: configuration, no code
    "AWS::SES::ReceiptRule",
    "AWS::Logs::MetricFilter",
    "AWS::Logs::QueryDefinition",
}


@pytest.fixture
def gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    for owner, name, replacement in moto_gaps.patches():
        monkeypatch.setattr(owner, name, replacement, raising=False)


@pytest.fixture
def data(tmp_path: Path) -> dict[str, str]:
    """The dev data stack in moto, with the secret moto's CloudFormation does not create."""
    boto3.client("s3", region_name=REGION).create_bucket(Bucket="artifacts")
    assert data_stack.deploy(STAGE, "artifacts") == "created"
    outputs = data_stack.outputs(STAGE)
    name = stages.stage_environment(STAGE)["JWT_SIGNING_KEY_SECRET_ID"]
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=name, SecretString='{"uninitialized": true}'
    )
    outputs.setdefault("SigningKeySecretArn", secret["ARN"])
    return outputs


def test_data_stack_reuses_the_template_definitions_and_holds_no_code() -> None:
    data_template = data_stack.build_data_template(STAGE)
    merge = build_template(STAGE)["Resources"]
    kinds = {resource["Type"] for resource in data_template["Resources"].values()}
    assert kinds <= DATA_TYPES_ONLY
    for logical_id, resource in data_template["Resources"].items():
        if resource["Type"] in {
            "AWS::DynamoDB::Table",
            "AWS::S3::Bucket",
            "AWS::SQS::Queue",
            "AWS::SES::ReceiptRule",
        }:
            assert resource == merge[logical_id], logical_id
    # The uploads bucket lets exactly the scanner roles chalice deploy creates read unscanned files.
    policy = data_template["Resources"]["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]
    deny = next(s for s in policy["Statement"] if s["Sid"] == "DenyReadUnlessScannedClean")
    readers = [arn["Fn::Sub"] for arn in deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]]
    scanners = [n for n in app_functions(load_app()) if FUNCTION_POLICIES.get(n) == "scanner"]
    assert readers == [
        f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/deskguard-dev-{n}" for n in scanners
    ]
    outputs = data_template["Outputs"]
    assert {"IdentityTableArn", "UploadsBucketName", "DataKeyArn", "AuditTableStreamArn"} <= set(
        outputs
    )
    assert outputs["DataKeyArn"]["Export"] == {"Name": {"Fn::Sub": "${AWS::StackName}-DataKeyArn"}}


def test_data_stack_creates_the_tables_and_buckets_and_redeploys_in_place(
    data: dict[str, str],
) -> None:
    tables = boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    settings = stages.stage_settings(STAGE)
    assert settings.table_name("identity") in tables
    assert settings.table_name("audit") in tables
    buckets = {b["Name"] for b in boto3.client("s3", region_name=REGION).list_buckets()["Buckets"]}
    assert {settings.uploads_bucket, settings.audit_archive_bucket} <= buckets
    assert data["IdentityTableArn"].endswith(f":table/{settings.table_name('identity')}")
    assert data_stack.deploy(STAGE, "artifacts") in {"updated", "unchanged"}
    assert data_stack.outputs(STAGE)["IdentityTableArn"] == data["IdentityTableArn"]


def test_stage_config_gives_each_function_a_policy_with_plain_arns(
    data: dict[str, str], tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(stages.CONFIG_PATH.read_text())
    result = chalice_stage.configure(STAGE, data, config_path)
    assert result["config_changed"]
    assert chalice_stage.configure(STAGE, data, config_path)["config_changed"] is False
    config = json.loads(config_path.read_text())
    functions = config["stages"][STAGE]["lambda_functions"]
    assert set(functions) == set(FUNCTION_POLICIES)
    assert chalice_stage.uses_chalice_deploy(STAGE, config)
    for name, spec in SCANNER_FUNCTIONS.items():
        assert functions[name]["lambda_memory_size"] == spec.memory_mb
    for file in result["policy_files"]:
        text = (tmp_path / file).read_text()
        assert "Fn::" not in text and "${" not in text and '"Ref"' not in text, file
    api = json.loads((tmp_path / chalice_stage.policy_file(STAGE, "api")).read_text())
    resources = [r for s in api["Statement"] for r in s["Resource"]]
    assert data["IdentityTableArn"] in resources
    assert data["SigningKeySecretArn"] in resources
    assert "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/deskguard-dev:*" in resources


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _chalice_deploy(rest_api_id: str | None = None) -> str:
    """What `chalice deploy` creates (functions, REST API from Chalice's own Swagger, stage),
    or, given an API, what a redeploy does to it (re-import in overwrite mode, new deployment)."""
    app = load_app()
    lam = boto3.client("lambda", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    code = _zip({"app.py": "def handler(event, context):\n    return None\n"})
    arns = {}
    for name in app_functions(app):
        function = data_stack.function_name(STAGE, name)
        try:
            arns[name] = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
            continue
        except lam.exceptions.ResourceNotFoundException:
            pass
        role = iam.create_role(
            RoleName=data_stack.role_name(STAGE, name), AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        arns[name] = lam.create_function(
            FunctionName=function,
            Runtime="python3.11",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": code},
        )["FunctionArn"]
    api_handler = data_stack.function_name(STAGE, "api_handler")
    deployed = {
        "api_handler_arn": arns["api_handler"],
        "api_handler_name": api_handler,
        "lambda_functions": {
            data_stack.function_name(STAGE, name): {"arn": arn} for name, arn in arns.items()
        },
    }
    document: dict[str, Any] = SwaggerGenerator(REGION, deployed).generate_swagger(app)
    apigw = boto3.client("apigateway", region_name=REGION)
    body = json.dumps(document).encode()
    if rest_api_id is None:
        rest_api_id = apigw.import_rest_api(body=body)["id"]
    else:
        apigw.put_rest_api(restApiId=rest_api_id, mode="overwrite", body=body)
    apigw.create_deployment(
        restApiId=rest_api_id, stageName=str(stages.stage_option(STAGE, "api_gateway_stage", "api"))
    )
    return rest_api_id


def test_post_deploy_applies_once_then_changes_nothing_and_restores_after_a_redeploy(
    gaps: None, data: dict[str, str], tmp_path: Path
) -> None:
    layer = tmp_path / "clamav-layer.zip"
    layer.write_bytes(_zip({"bin/clamd": "#!/bin/sh\n"}))
    api_id = _chalice_deploy()

    def run() -> list[str]:
        return post_deploy.apply(STAGE, data, api_id, layer_zip=layer)

    first = run()
    assert len([c for c in first if c.startswith("gateway response")]) == len(GATEWAY_RESPONSES)
    assert any(c.startswith("authorizer deskguard_authorizer: REQUEST") for c in first)
    assert any(c.startswith("layer deskguard-dev-clamav version 1") for c in first)
    assert any(c.startswith("audit stream ->") for c in first)
    assert any(c.startswith("webhooks stream -> deskguard-dev-route_notifications") for c in first)
    assert any(
        c.startswith("notifications queue -> deskguard-dev-send_notifications") for c in first
    )
    assert run() == []

    apigw = boto3.client("apigateway", region_name=REGION)
    authorizer = apigw.get_authorizers(restApiId=api_id)["items"][0]
    assert authorizer["type"] == "REQUEST"
    assert authorizer["authorizerResultTtlInSeconds"] == 0
    assert "deskguard-dev-deskguard_request_authorizer" in authorizer["authorizerUri"]
    not_found = apigw.get_gateway_response(restApiId=api_id, responseType="RESOURCE_NOT_FOUND")
    assert not_found["statusCode"] == "404"
    assert json.loads(not_found["responseTemplates"]["application/json"])["error"]["code"]
    assert "gatewayresponse.header.Strict-Transport-Security" in not_found["responseParameters"]
    lam = boto3.client("lambda", region_name=REGION)
    scanner = lam.get_function_configuration(FunctionName="deskguard-dev-scan_attachment")
    assert scanner["EphemeralStorage"]["Size"] == SCANNER_FUNCTIONS["scan_attachment"].ephemeral_mb
    assert any(":layer:deskguard-dev-clamav:1" in layer["Arn"] for layer in scanner["Layers"])
    permission = json.loads(lam.get_policy(FunctionName="deskguard-dev-scan_attachment")["Policy"])
    assert [s["Principal"]["Service"] for s in permission["Statement"]] == ["events.amazonaws.com"]
    events = boto3.client("events", region_name=REGION)
    targets = events.list_targets_by_rule(Rule="deskguard-dev-upload-created")["Targets"]
    assert [t["Arn"].rsplit(":", 1)[-1] for t in targets] == ["deskguard-dev-scan_attachment"]
    # Stored inbound mail -> ingest_mail, invocable by that rule only.
    rule = events.describe_rule(Name="deskguard-dev-inbound-mail-stored")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"]["object"] == {"key": [{"prefix": "inbound/"}]}
    targets = events.list_targets_by_rule(Rule="deskguard-dev-inbound-mail-stored")["Targets"]
    assert [t["Arn"].rsplit(":", 1)[-1] for t in targets] == ["deskguard-dev-ingest_mail"]
    permission = json.loads(lam.get_policy(FunctionName="deskguard-dev-ingest_mail")["Policy"])
    (statement,) = permission["Statement"]
    assert statement["Principal"]["Service"] == "events.amazonaws.com"
    assert rule["Arn"] in json.dumps(statement["Condition"])
    mappings = lam.list_event_source_mappings(FunctionName="deskguard-dev-chain_audit_records")
    assert [m["EventSourceArn"] for m in mappings["EventSourceMappings"]] == [
        data["AuditTableStreamArn"]
    ]
    for function, source in (
        ("deskguard-dev-route_notifications", data["WebhooksTableStreamArn"]),
        ("deskguard-dev-send_notifications", data["NotificationsQueueArn"]),
    ):
        mappings = lam.list_event_source_mappings(FunctionName=function)
        assert [m["EventSourceArn"] for m in mappings["EventSourceMappings"]] == [source]

    # A redeploy re-imports the API: the authorizer is Chalice's TOKEN one again until rerun.
    _chalice_deploy(api_id)
    assert apigw.get_authorizers(restApiId=api_id)["items"][0]["type"] == "TOKEN"
    again = run()
    assert any(c.startswith("authorizer deskguard_authorizer: REQUEST") for c in again)
    assert "layer deskguard-dev-clamav version 2" not in " ".join(again)  # same zip: no new one
    assert run() == []
