"""The generated CloudFormation: tables equal the models, buckets locked down, gateway responses in
the contract's shape with the security headers, HSTS everywhere, the cookie authorizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import AuthResponse, Chalice

from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from chalicelib.core.settings import get_settings
from infra import stages
from infra.resources import BUCKETS, table_specs
from infra.template import TemplateError, build_template
from tests.support.assertions import CONTRACT_HEADERS

DEPLOYED = stages.deployed_stage_names()


@pytest.fixture(scope="module", params=DEPLOYED)
def stage_template(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, build_template(request.param)


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {item[key]: item for item in items}


def test_every_deployed_stage_has_its_own_names() -> None:
    assert {"dev", "prod"} <= set(DEPLOYED)
    seen: set[str] = set()
    for stage in DEPLOYED:
        settings = stages.stage_settings(stage)
        names = {spec.physical_name(settings) for spec in table_specs()}
        names |= {bucket.physical_name(settings) for bucket in BUCKETS}
        assert all(stage in name for name in names), names
        assert not names & seen
        seen |= names


def test_table_key_schemas_equal_the_models(stage_template: tuple[str, dict[str, Any]]) -> None:
    """Compared with the tables pynamodb itself created from the models (in moto)."""
    _, template = stage_template
    dynamodb = boto3.client("dynamodb", region_name=get_settings().region)
    for spec in table_specs():
        live = dynamodb.describe_table(TableName=spec.physical_name(get_settings()))["Table"]
        props = template["Resources"][spec.logical_id]["Properties"]
        assert props["KeySchema"] == live["KeySchema"], spec.short_name
        assert _by_name(props["AttributeDefinitions"], "AttributeName") == _by_name(
            live["AttributeDefinitions"], "AttributeName"
        )
        live_gsis = _by_name(live.get("GlobalSecondaryIndexes", []), "IndexName")
        gsis = _by_name(props.get("GlobalSecondaryIndexes", []), "IndexName")
        assert set(gsis) == set(live_gsis), spec.short_name
        for name, index in gsis.items():
            assert index["KeySchema"] == live_gsis[name]["KeySchema"]
            assert (
                index["Projection"]["ProjectionType"]
                == (live_gsis[name]["Projection"]["ProjectionType"])
            )
        ttl = spec.ttl_attribute()
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props


def test_tables_encrypted_recoverable_and_protected(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    stage, template = stage_template
    production = stage != "dev"
    for spec in table_specs():
        table = template["Resources"][spec.logical_id]
        props = table["Properties"]
        assert props["TableName"] == stages.stage_settings(stage).table_name(spec.short_name)
        assert props["SSESpecification"] == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        }
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["DeletionProtectionEnabled"] is production
        assert table["DeletionPolicy"] == ("Retain" if production else "Delete")
    audit = template["Resources"]["AuditTable"]["Properties"]
    assert audit["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    assert template["Resources"]["DataKey"]["Properties"]["EnableKeyRotation"] is True


def _statements(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    policy = template["Resources"][f"{logical_id}Policy"]["Properties"]["PolicyDocument"]
    return _by_name(policy["Statement"], "Sid")


def test_buckets_private_encrypted_versioned_tls_only(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    _, template = stage_template
    for bucket in BUCKETS:
        props = template["Resources"][bucket.logical_id]["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LifecycleConfiguration"]["Rules"]
        statements = _statements(template, bucket.logical_id)
        tls = statements["DenyInsecureTransport"]
        assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert statements["DenyOutdatedTls"]["Condition"] == {
            "NumericLessThan": {"s3:TlsVersion": "1.2"}
        }


def test_uploads_readable_only_when_scanned_clean(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    _, template = stage_template
    deny = _statements(template, "UploadsBucket")["DenyReadUnlessScannedClean"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert "s3:GetObject" in deny["Action"]
    assert deny["Condition"]["StringNotEquals"] == {"s3:ExistingObjectTag/av-status": "CLEAN"}
    uploads = template["Resources"]["UploadsBucket"]["Properties"]
    assert uploads["NotificationConfiguration"]["EventBridgeConfiguration"] == {
        "EventBridgeEnabled": True
    }
    assert "DenyReadQuarantined" in _statements(template, "QuarantineBucket")


def test_audit_archive_has_object_lock(stage_template: tuple[str, dict[str, Any]]) -> None:
    stage, template = stage_template
    archive = template["Resources"]["AuditArchiveBucket"]
    assert archive["Properties"]["ObjectLockEnabled"] is True
    retention = archive["Properties"]["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]
    # COMPLIANCE on every stage, for the stage's one retention setting (dev keeps it short).
    assert retention == {
        "Mode": "COMPLIANCE",
        "Days": stages.stage_settings(stage).audit_archive_retention_days,
    }
    assert retention["Days"] == (1 if stage == "dev" else 365)
    assert archive["DeletionPolicy"] == "Retain"


def test_the_chainer_reads_the_audit_stream_and_alone_may_sign(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    _, template = stage_template
    resources = template["Resources"]
    mapping = resources["AuditChainerStream"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["AuditTable", "StreamArn"]}
    assert mapping["FunctionName"] == {"Ref": "ChainAuditRecords"}
    assert (mapping["BatchSize"], mapping["ParallelizationFactor"]) == (100, 1)
    assert mapping["MaximumRetryAttempts"] == -1  # never skip a record
    pattern = json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])
    assert pattern["eventName"] == ["INSERT"]
    key = resources["AuditSigningKey"]["Properties"]
    assert (key["KeySpec"], key["KeyUsage"]) == ("ECC_NIST_P256", "SIGN_VERIFY")
    statements = key["KeyPolicy"]["Statement"]
    signing = [s for s in statements if "kms:Sign" in json.dumps(s["Action"])]
    assert [s["Sid"] for s in signing] == ["OnlyTheChainerSigns"]
    assert "ChainAuditRecordsRole" in json.dumps(signing[0]["Condition"])
    assert not any(
        "kms:*" in json.dumps(s["Action"]) or "kms:Sign" in s["Action"]
        for s in statements
        if s["Sid"] != "OnlyTheChainerSigns"
    )


def test_signing_key_secret_is_the_one_the_functions_read(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    stage, template = stage_template
    secret = template["Resources"]["SigningKeySecret"]["Properties"]
    assert secret["Name"] == stages.stage_environment(stage)["JWT_SIGNING_KEY_SECRET_ID"]
    assert secret["KmsKeyId"] == {"Ref": "DataKey"}
    assert "SecretString" not in secret  # never in the template: set by `python -m cli keys init`


# Every response type the contract names, with the status and code a client must see.
REQUIRED = {
    "DEFAULT_4XX": (400, "VALIDATION_ERROR"),
    "DEFAULT_5XX": (500, "INTERNAL"),
    "UNAUTHORIZED": (401, "UNAUTHENTICATED"),
    "ACCESS_DENIED": (403, "FORBIDDEN"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),
    "RESOURCE_NOT_FOUND": (404, "NOT_FOUND"),
    "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
    "THROTTLED": (429, "RATE_LIMITED"),
    "QUOTA_EXCEEDED": (429, "RATE_LIMITED"),
    "AUTHORIZER_FAILURE": (500, "INTERNAL"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "INTERNAL"),
}


def test_gateway_responses_use_the_contract(stage_template: tuple[str, dict[str, Any]]) -> None:
    _, template = stage_template
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = body["x-amazon-apigateway-gateway-responses"]
    assert set(REQUIRED) <= set(responses) == set(GATEWAY_RESPONSES)
    for response_type, response in responses.items():
        payload = json.loads(response["responseTemplates"]["application/json"])
        assert set(payload) == {"error"} and set(payload["error"]) == {"code", "message"}
        if response_type in REQUIRED:
            status, code = REQUIRED[response_type]
            assert (int(response["statusCode"]), payload["error"]["code"]) == (status, code)
        headers = {
            key.removeprefix("gatewayresponse.header."): value
            for key, value in response["responseParameters"].items()
        }
        for name, value in CONTRACT_HEADERS.items():
            assert headers[name] == f"'{value}'", (response_type, name)
        assert "camera=()" in headers["Permissions-Policy"]
        hsts = headers["Strict-Transport-Security"].strip("'")
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000
        assert "includeSubDomains" in hsts
        assert headers["X-Request-Id"] == "context.requestId"
        assert headers["Content-Type"] == "'application/json'"


def test_hsts_is_on_in_every_deployed_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    for stage in DEPLOYED:
        assert stages.stage_settings(stage).hsts_enabled, stage
    config = stages.read_config()
    config["stages"]["dev"]["environment_variables"]["HSTS_ENABLED"] = "false"
    monkeypatch.setattr(stages, "read_config", lambda *_: config)
    with pytest.raises(TemplateError, match="HSTS"):
        build_template("dev")


def test_custom_domains_require_tls_1_2() -> None:
    for stage, stage_cfg in stages.read_config()["stages"].items():
        domain = stage_cfg.get("api_gateway_custom_domain")
        if domain:
            assert domain.get("tls_version") == "TLS_1_2", stage


def test_deployed_stages_configure_endpoint_and_log_retention() -> None:
    for stage in DEPLOYED:
        assert stages.stage_option(stage, "api_gateway_endpoint_type", None) in {
            "REGIONAL",
            "EDGE",
            "PRIVATE",
        }
        assert stages.stage_option(stage, "log_retention_in_days", 0) >= 30
        assert stages.stage_environment(stage)["RATE_LIMIT_ENABLED"] == "true"


def test_local_stage_is_never_deployed() -> None:
    with pytest.raises(TemplateError):
        build_template("local")


def _fake_app(*lambda_names: str) -> Chalice:
    fake = Chalice(app_name="deskguard", configure_logs=False)  # keep the shared logger audible

    @fake.authorizer()
    def deskguard_authorizer(auth_request: Any) -> AuthResponse:  # pragma: no cover
        return AuthResponse(routes=["*"], principal_id="x")

    @fake.route("/api/me", authorizer=deskguard_authorizer)
    def me() -> dict[str, str]:  # pragma: no cover
        return {}

    for name in lambda_names:
        fake.lambda_function(name=name)(lambda event, context: None)
    return fake


def test_cookie_authorizer_replaces_the_token_authorizer_when_defined() -> None:
    without = build_template("dev", app=_fake_app())
    assert (
        "securityDefinitions" not in without["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    )
    template = build_template("dev", app=_fake_app("deskguard_request_authorizer"))
    body = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    authorizer = body["securityDefinitions"]["deskguard_authorizer"]
    config = authorizer["x-amazon-apigateway-authorizer"]
    assert config["type"] == "request"
    assert "${DeskguardRequestAuthorizer.Arn}" in config["authorizerUri"]["Fn::Sub"]
    assert config["authorizerResultTtlInSeconds"] == 0
    permission = template["Resources"]["DeskguardRequestAuthorizerInvokePermission"]["Properties"]
    assert permission["Principal"] == "apigateway.amazonaws.com"


def test_scanner_is_wired_to_new_uploads_and_may_read_pending_files() -> None:
    assert "UploadCreatedRule" not in build_template("dev", app=_fake_app())["Resources"]
    template = build_template("dev", app=_fake_app("scan_attachment", "retry_attachment_scans"))
    rule = template["Resources"]["UploadCreatedRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [
        stages.stage_settings("dev").uploads_bucket
    ]
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ScanAttachment", "Arn"]}
    deny = _statements(template, "UploadsBucket")["DenyReadUnlessScannedClean"]
    assert deny["Condition"]["ArnNotEquals"] == {
        "aws:PrincipalArn": [
            {"Fn::GetAtt": ["RetryAttachmentScansRole", "Arn"]},
            {"Fn::GetAtt": ["ScanAttachmentRole", "Arn"]},
        ]
    }


def test_observability_fragments_are_merged(tmp_path: Path) -> None:
    (tmp_path / "alarms.json").write_text(
        json.dumps(
            {
                "Resources": {
                    "FailedLoginFilter": {
                        "Type": "AWS::Logs::MetricFilter",
                        "Properties": {
                            "LogGroupName": {"Ref": "ApiHandlerLogGroup"},
                            "FilterPattern": '{ $.category = "security.failed_login" }',
                            "MetricTransformations": [
                                {
                                    "MetricName": "FailedLogins-{{stage}}",
                                    "MetricNamespace": "{{metrics_namespace}}",
                                    "MetricValue": "1",
                                }
                            ],
                        },
                    }
                }
            }
        )
    )
    template = build_template("prod", app=_fake_app(), observability_dir=tmp_path)
    metric = template["Resources"]["FailedLoginFilter"]["Properties"]["MetricTransformations"][0]
    assert metric["MetricName"] == "FailedLogins-prod"
    assert metric["MetricNamespace"] == "Deskguard"
    (tmp_path / "clash.json").write_text(json.dumps({"Resources": {"AuditTable": {}}}))
    with pytest.raises(TemplateError, match="already defined"):
        build_template("prod", app=_fake_app(), observability_dir=tmp_path)
    (tmp_path / "clash.json").write_text(json.dumps({"alarms": []}))
    with pytest.raises(TemplateError, match="fragment"):
        build_template("prod", app=_fake_app(), observability_dir=tmp_path)


def test_ops_fragments_are_wired_to_this_stack_and_every_function(
    stage_template: tuple[str, dict[str, Any]],
) -> None:
    """The generated ops files use `${Stage}`, `${ApiLogGroupName}`, `${AlarmTopicArn}`,
    `${Region}`: each resolves here, and a security event counts whichever function logs it
    (malware from the scanner, authorizer denials from the authorizers)."""
    stage, template = stage_template
    text = json.dumps(template)
    for variable in ("${Stage}", "${ApiLogGroupName}", "${AlarmTopicArn}", "${Region}"):
        assert variable not in text, variable
    resources = template["Resources"]
    filters = [
        r["Properties"] for r in resources.values() if r.get("Type") == "AWS::Logs::MetricFilter"
    ]
    malware = [f for f in filters if "security.malware_detected" in f["FilterPattern"]]
    assert {"Ref": "ScanAttachmentLogGroup"} in [f["LogGroupName"] for f in malware]
    denials = [f for f in filters if "security.authorization_failure" in f["FilterPattern"]]
    assert {"Ref": "DeskguardAuthorizerLogGroup"} in [f["LogGroupName"] for f in denials]
    alarm = resources["SecurityEventMalwareDetectedAlarm"]["Properties"]
    assert alarm["AlarmActions"] == [{"Fn::Sub": "${AlarmTopic}"}]
    assert alarm["AlarmName"] == {"Fn::Sub": f"deskguard-{stage}-security.malware_detected"}
    published = [
        (json.dumps(t["MetricNamespace"]), t["MetricName"])
        for f in malware
        for t in f["MetricTransformations"]
    ]
    assert set(published) == {(json.dumps(alarm["Namespace"]), alarm["MetricName"])}
    assert f"/SecurityEvents/{stage}" in json.dumps(alarm["Namespace"])
