"""The CloudFormation resources Chalice does not create, generated from the code's registries.

`make template` (`python -m infra.template [--stage dev]`) writes the build artifact
`build/<stage>/merge-template.json`, merged into Chalice's own template by `chalice package
--merge-template` (`make package` writes it too). The files it reads that are generated (IAM
policies, observability fragments) are written by `make generate` only. What comes from where:

- DynamoDB tables: `chalicelib.tables.table_models()` (keys, indexes, TTL attribute), with
  SSE-KMS (the stage's key), PITR, deletion protection on production stages, a stream on `audit`;
- S3 buckets: `chalicelib.core.settings` names (uploads, quarantine, definitions, audit archive);
- Gateway Responses: `chalicelib.core.gateway_responses` bodies + `chalicelib.core.headers`;
- the signing-key secret: `JWT_SIGNING_KEY_SECRET_ID` of the stage;
- observability: every `infra/observability/*.json` fragment (metric filters, alarms, dashboard);
- the cookie (REQUEST) authorizer: `REQUEST_AUTHORIZERS` below, applied when the app defines it;
- the audit chainer: the event source mapping from the audit table's stream
  (`chalicelib.audit.chainer.STREAM_FILTER`), the asymmetric KMS key that signs checkpoints
  (only the chainer's roles may `Sign`) and an alarm on the stream's iterator age.

Why one module of this size: it describes one document, and each function below is a pure
function of the registries for one resource kind (tables, buckets and their policies, keys and
secrets, the authorizer and Gateway Responses, the scanner's and the audit chainer's wiring,
observability); keeping them together keeps the names and references between resources in one
place. A new resource kind gets its own module under `infra/` once this one grows further.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chalice.app import Chalice

from chalicelib.audit.chainer import STREAM_FILTER
from chalicelib.core import settings as settings_module
from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from chalicelib.core.headers import security_headers
from chalicelib.core.settings import Settings
from infra import stages
from infra.resources import (
    API_HANDLER,
    AUDIT_CHAINER_FUNCTION,
    AUDIT_SIGNING_KEY,
    BUCKETS,
    FUNCTION_POLICIES,
    SCAN_EVENTS_BUS,
    SCANNER_DLQ,
    SCANNER_FUNCTION,
    SCANNER_FUNCTIONS,
    SCANNER_LAYER,
    SCANNER_LAYER_ZIP,
    TableSpec,
    app_functions,
    bucket,
    function_logical_id,
    load_app,
    role_logical_id,
    table_specs,
)

ROOT = Path(__file__).resolve().parent.parent
OBSERVABILITY_DIR = ROOT / "infra" / "observability"
BUILD_DIR = ROOT / "build"
AUDIT_TABLE = "audit"
CLEAN_TAG = ("av-status", "CLEAN")
# API Gateway stage throttling (per account/stage, in front of the app's own rate limiting).
THROTTLE_RATE = 50
THROTTLE_BURST = 100


@dataclasses.dataclass(frozen=True)
class RequestAuthorizer:
    """A REQUEST-type Lambda authorizer that the template wires in place of a Chalice one.

    Chalice's built-in authorizer is TOKEN-type on one header; the session cookie needs a
    REQUEST authorizer that sees the whole request (Authorization and Cookie headers). Chalice
    cannot declare one, so `chalicelib/api/authorizer.py` defines it as a plain Lambda function
    (`@app.lambda_function(name=...)`) that takes API Gateway's REQUEST event and returns an IAM
    policy document, and this entry makes API Gateway use it for every route that Chalice
    attached to `replaces`. Nothing happens while the app does not define `function_name`.
    """

    function_name: str
    replaces: str
    identity_sources: tuple[str, ...]
    ttl_seconds: int


# The cookie authorizer. With caching off (ttl 0) API Gateway calls the
# authorizer even when a listed identity source is absent, so one authorizer serves both bearer
# and cookie clients; with caching on, every source would be required on every request.
REQUEST_AUTHORIZERS: tuple[RequestAuthorizer, ...] = (
    RequestAuthorizer(
        function_name="deskguard_request_authorizer",
        replaces="deskguard_authorizer",
        identity_sources=("method.request.header.Authorization", "method.request.header.Cookie"),
        ttl_seconds=0,
    ),
)


class TemplateError(ValueError):
    """The stage or a fragment cannot produce a valid template."""


def _sub(expression: str) -> dict[str, str]:
    return {"Fn::Sub": expression}


def _retain(resource: dict[str, Any], production: bool) -> dict[str, Any]:
    policy = "Retain" if production else "Delete"
    resource["DeletionPolicy"] = policy
    resource["UpdateReplacePolicy"] = policy
    return resource


# --- DynamoDB -------------------------------------------------------------------------------


def _projection(index: Any) -> dict[str, Any]:
    projection = index.Meta.projection
    out: dict[str, Any] = {"ProjectionType": projection.projection_type}
    if getattr(projection, "non_key_attributes", None):
        out["NonKeyAttributes"] = list(projection.non_key_attributes)
    return out


def _key_schema(entries: Sequence[Mapping[str, object]]) -> list[dict[str, str]]:
    """HASH before RANGE, as DynamoDB requires (pynamodb lists them in attribute order)."""
    return sorted(
        ({"AttributeName": str(e["AttributeName"]), "KeyType": str(e["KeyType"])} for e in entries),
        key=lambda entry: entry["KeyType"] != "HASH",
    )


def table_resource(spec: TableSpec, settings: Settings, production: bool) -> dict[str, Any]:
    """One `AWS::DynamoDB::Table` from a model family."""
    schema = spec.model._get_schema()
    definitions = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    gsis: list[dict[str, Any]] = []
    lsis: list[dict[str, Any]] = []
    for index_spec in spec.indexes():
        index_schema = index_spec.index._get_schema()
        for attr in index_spec.index.Meta.attributes.values():
            if attr.is_hash_key or attr.is_range_key:
                definitions[attr.attr_name] = attr.attr_type
        entry = {
            "IndexName": index_spec.name,
            "KeySchema": _key_schema(index_schema["key_schema"]),
            "Projection": _projection(index_spec.index),
        }
        (gsis if index_spec.kind == "global" else lsis).append(entry)
    properties: dict[str, Any] = {
        "TableName": spec.physical_name(settings),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in sorted(definitions.items())
        ],
        "KeySchema": _key_schema(schema["key_schema"]),
        "SSESpecification": {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        },
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": production,
        "Tags": [{"Key": "deskguard:table", "Value": spec.short_name}],
    }
    if gsis:
        properties["GlobalSecondaryIndexes"] = gsis
    if lsis:
        properties["LocalSecondaryIndexes"] = lsis
    ttl = spec.ttl_attribute()
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    if spec.short_name == AUDIT_TABLE:
        # Feeds the audit chainer (seq, hashes, signed checkpoints to the Object Lock bucket).
        properties["StreamSpecification"] = {"StreamViewType": "NEW_IMAGE"}
    return _retain({"Type": "AWS::DynamoDB::Table", "Properties": properties}, production)


# --- S3 -------------------------------------------------------------------------------------

_LIFECYCLE: dict[str, list[dict[str, Any]]] = {
    "uploads": [
        {"Id": "AbortIncompleteUploads", "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        {"Id": "ExpireOldVersions", "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    ],
    "quarantine": [
        {"Id": "ExpireQuarantined", "Status": "Enabled", "ExpirationInDays": 90,
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
    ],
    "definitions": [
        {"Id": "ExpireOldDefinitions", "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7}},
    ],
    "audit_archive": [
        {"Id": "ArchiveToGlacier", "Status": "Enabled",
         "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": 90}]},
    ],
}  # fmt: skip


def bucket_resource(kind: str, settings: Settings, production: bool) -> dict[str, Any]:
    """A private, encrypted, versioned bucket."""
    spec = bucket(kind)
    properties: dict[str, Any] = {
        "BucketName": spec.physical_name(settings),
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]
        },
        "VersioningConfiguration": {"Status": "Enabled"},
        "LifecycleConfiguration": {"Rules": copy.deepcopy(_LIFECYCLE[kind])},
    }
    if kind == "uploads":
        # Object-created events go to EventBridge, where a rule invokes the scanner (Chalice's
        # packager cannot wire @app.on_s3_event, and a direct notification would be circular).
        properties["NotificationConfiguration"] = {
            "EventBridgeConfiguration": {"EventBridgeEnabled": True}
        }
    if kind == "audit_archive":
        # Every stage: COMPLIANCE for `audit_archive_retention_days` (the chainer also puts each
        # object with that explicit lock, so the default only backs it up).
        properties["ObjectLockEnabled"] = True
        properties["ObjectLockConfiguration"] = {
            "ObjectLockEnabled": "Enabled",
            "Rule": {
                "DefaultRetention": {
                    "Mode": "COMPLIANCE",
                    "Days": settings.audit_archive_retention_days,
                }
            },
        }
    return _retain(
        {"Type": "AWS::S3::Bucket", "Properties": properties},
        production or kind == "audit_archive",
    )


def bucket_policy(kind: str, scanner_roles: list[str]) -> dict[str, Any]:
    """TLS-only (1.2+) for every bucket; uploads readable only once tagged CLEAN."""
    spec = bucket(kind)
    arn = _sub(f"${{{spec.logical_id}.Arn}}")
    objects = _sub(f"${{{spec.logical_id}.Arn}}/*")
    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, objects],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
        {
            "Sid": "DenyOutdatedTls",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, objects],
            "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
        },
    ]
    if kind == "uploads":
        condition: dict[str, Any] = {
            "StringNotEquals": {f"s3:ExistingObjectTag/{CLEAN_TAG[0]}": CLEAN_TAG[1]}
        }
        if scanner_roles:
            # The scanner functions must read a file before it is CLEAN; nobody else may.
            condition["ArnNotEquals"] = {
                "aws:PrincipalArn": [{"Fn::GetAtt": [role, "Arn"]} for role in scanner_roles]
            }
        statements.append(
            {
                "Sid": "DenyReadUnlessScannedClean",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [objects],
                "Condition": condition,
            }
        )
    if kind == "quarantine":
        statements.append(
            {
                # Malware stays put; incident response lifts this deliberately (runbook).
                "Sid": "DenyReadQuarantined",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [objects],
            }
        )
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": spec.logical_id},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": statements},
        },
    }


# --- API Gateway ----------------------------------------------------------------------------


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`: the contract's body and headers on every type."""
    with settings_module.override(hsts_enabled=True):
        headers = security_headers()
    headers["Content-Type"] = "application/json"
    parameters = {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()}
    # API Gateway maps context variables into gateway-response headers (not into static values).
    parameters["gatewayresponse.header.X-Request-Id"] = "context.requestId"
    return {
        response_type: {
            "statusCode": str(spec.status),
            "responseParameters": dict(parameters),
            "responseTemplates": {"application/json": spec.body()},
        }
        for response_type, spec in GATEWAY_RESPONSES.items()
    }


def _invoke_permission(function: str, principal: str, source_arn: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "Action": "lambda:InvokeFunction",
            "Principal": principal,
            "SourceArn": source_arn,
        },
    }


def request_authorizer_overrides(
    app: Chalice,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Security-definition overrides and extra resources for the REQUEST authorizers."""
    defined = {function.name for function in app.pure_lambda_functions}
    definitions: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for spec in REQUEST_AUTHORIZERS:
        if spec.function_name not in defined:
            continue
        function = function_logical_id(spec.function_name)
        authorizer: dict[str, Any] = {
            "type": "request",
            "authorizerUri": _sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                f"/functions/${{{function}.Arn}}/invocations"
            ),
            "authorizerResultTtlInSeconds": spec.ttl_seconds,
        }
        if spec.ttl_seconds:
            authorizer["identitySource"] = ", ".join(spec.identity_sources)
        definitions[spec.replaces] = {
            "type": "apiKey",
            "name": "Unused",
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": authorizer,
        }
        resources[f"{function}InvokePermission"] = _invoke_permission(
            function,
            "apigateway.amazonaws.com",
            _sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestAPI}/*"),
        )
    return definitions, resources


def rest_api_overrides(app: Chalice, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deep-merged into Chalice's `RestAPI`: gateway responses, authorizers, throttling."""
    definitions, resources = request_authorizer_overrides(app)
    body: dict[str, Any] = {"x-amazon-apigateway-gateway-responses": gateway_responses()}
    if definitions:
        body["securityDefinitions"] = definitions
    properties: dict[str, Any] = {
        "DefinitionBody": body,
        "MethodSettings": [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": THROTTLE_RATE,
                "ThrottlingBurstLimit": THROTTLE_BURST,
                "MetricsEnabled": True,
            }
        ],
    }
    if stages.stage_option(stage, "xray", False):
        properties["TracingEnabled"] = True
    return {"Properties": properties}, resources


# --- The rest -------------------------------------------------------------------------------


def data_key(stage: str) -> dict[str, Any]:
    return {
        "DataKey": {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": f"Deskguard {stage}: tables and signing-key secret",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            # Delegate to IAM; a key policy's Resource is always "*" (the key).
                            "Sid": "AccountAdministers",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
                            },
                            "Action": "kms:*",
                            "Resource": "*",
                        }
                    ],
                },
            },
        },
        "DataKeyAlias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": f"alias/deskguard-{stage}",
                "TargetKeyId": {"Ref": "DataKey"},
            },
        },
    }


def signing_secret(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::SecretsManager::Secret",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Name": name,
            "Description": "Deskguard JWT signing keyring (Ed25519); set by the keys init command",
            "KmsKeyId": {"Ref": "DataKey"},
            # A random placeholder that is not a keyring: the functions fail closed (no token
            # is issued or accepted) until `python -m cli keys init` stores real keys.
            "GenerateSecretString": {
                "SecretStringTemplate": '{"uninitialized": true}',
                "GenerateStringKey": "placeholder",
                "PasswordLength": 32,
            },
        },
    }


def scanner_wiring(app: Chalice, settings: Settings) -> dict[str, Any]:
    """EventBridge rule: an object created in the uploads bucket invokes the scanner."""
    if SCANNER_FUNCTION not in {f.name for f in app.pure_lambda_functions}:
        return {}  # (an @on_s3_event scanner cannot be packaged by Chalice: see docs/deploy.md)
    function = function_logical_id(SCANNER_FUNCTION)
    return {
        "UploadCreatedRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "New upload -> malware scan",
                "EventPattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {"bucket": {"name": [settings.uploads_bucket]}},
                },
                "Targets": [{"Id": "scanner", "Arn": {"Fn::GetAtt": [function, "Arn"]}}],
            },
        },
        "UploadCreatedInvokePermission": _invoke_permission(
            function, "events.amazonaws.com", {"Fn::GetAtt": ["UploadCreatedRule", "Arn"]}
        ),
    }


# Lambda's retry of a failing stream batch never gives up (records must not be skipped): the
# alarm says when the chainer falls behind instead.
AUDIT_CHAINER_BATCH_SIZE = 100
AUDIT_CHAINER_BATCHING_WINDOW_SECONDS = 1
AUDIT_CHAINER_MAX_AGE_MS = 60_000


def audit_chainer_wiring(app: Chalice, stage: str) -> dict[str, Any]:
    """The stream -> chainer mapping, the checkpoint signing key (+ alias), the lag alarm."""
    chainer_functions = [
        name for name in app_functions(app) if FUNCTION_POLICIES.get(name) == "audit_chainer"
    ]
    if AUDIT_CHAINER_FUNCTION not in chainer_functions:
        return {}
    function = function_logical_id(AUDIT_CHAINER_FUNCTION)
    account_root = _sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    # By name pattern, not `Fn::GetAtt` (the roles' policies name this key: a cycle). CFN names
    # Chalice's roles `<stack>-<LogicalId>-<suffix>`.
    signers = [
        _sub(
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-"
            f"{role_logical_id(name)}-*"
        )
        for name in chainer_functions
    ]
    return {
        "AuditChainerStream": {
            "Type": "AWS::Lambda::EventSourceMapping",
            "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["AuditTable", "StreamArn"]},
                "FunctionName": {"Ref": function},
                "StartingPosition": "TRIM_HORIZON",
                "BatchSize": AUDIT_CHAINER_BATCH_SIZE,
                "MaximumBatchingWindowInSeconds": AUDIT_CHAINER_BATCHING_WINDOW_SECONDS,
                "ParallelizationFactor": 1,
                "MaximumRetryAttempts": -1,
                "MaximumRecordAgeInSeconds": -1,
                "BisectBatchOnFunctionError": False,
                "FilterCriteria": {
                    "Filters": [{"Pattern": json.dumps(STREAM_FILTER, sort_keys=True)}]
                },
            },
        },
        AUDIT_SIGNING_KEY: {
            "Type": "AWS::KMS::Key",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Description": f"Deskguard {stage}: signs audit checkpoints",
                "KeySpec": "ECC_NIST_P256",
                "KeyUsage": "SIGN_VERIFY",
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            # Administration and verification, never signing: not even an
                            # IAM policy in this account can let another principal Sign.
                            "Sid": "AccountAdministersAndVerifies",
                            "Effect": "Allow",
                            "Principal": {"AWS": account_root},
                            "Action": [
                                "kms:Describe*",
                                "kms:Get*",
                                "kms:List*",
                                "kms:Verify",
                                "kms:Create*",
                                "kms:Put*",
                                "kms:Update*",
                                "kms:Enable*",
                                "kms:Disable*",
                                "kms:TagResource",
                                "kms:UntagResource",
                                "kms:ScheduleKeyDeletion",
                                "kms:CancelKeyDeletion",
                            ],
                            "Resource": "*",
                        },
                        {
                            "Sid": "OnlyTheChainerSigns",
                            "Effect": "Allow",
                            "Principal": {"AWS": account_root},
                            "Action": "kms:Sign",
                            "Resource": "*",
                            "Condition": {"ArnLike": {"aws:PrincipalArn": signers}},
                        },
                    ],
                },
            },
        },
        f"{AUDIT_SIGNING_KEY}Alias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": f"alias/deskguard-{stage}-audit-signing",
                "TargetKeyId": {"Ref": AUDIT_SIGNING_KEY},
            },
        },
        "AuditChainerLagAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "The audit chainer is behind the audit table's stream",
                "Namespace": "AWS/Lambda",
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
                "Statistic": "Maximum",
                "Period": 60,
                "EvaluationPeriods": 5,
                "Threshold": AUDIT_CHAINER_MAX_AGE_MS,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        },
    }


# How the scanner functions launch ClamAV: the layer's own dynamic loader and libraries (Debian's
# glibc 2.36 build), never the Lambda runtime's (Amazon Linux 2, glibc 2.26).
LAYER_LOADER = "/opt/lib/ld-linux-x86-64.so.2 --library-path /opt/lib"
SCANNER_ENVIRONMENT = {
    "CLAMD_COMMAND": f"{LAYER_LOADER} /opt/bin/clamd",
    "FRESHCLAM_COMMAND": f"{LAYER_LOADER} /opt/bin/freshclam",
    "CLAMD_WORK_DIR": "/tmp/clamd",  # noqa: S108 (Lambda: /tmp is private to the environment)
    "CLAMAV_DEFINITIONS_DIR": "/tmp/clamav-definitions",  # noqa: S108
    # freshclam's libcurl (Debian build) looks for Debian's CA path; Amazon Linux 2 keeps its
    # bundle here.
    "CURL_CA_BUNDLE": "/etc/pki/tls/certs/ca-bundle.crt",
}


def scanner_functions(app: Chalice, settings: Settings) -> dict[str, Any]:
    """The ClamAV layer, the scan-events bus, the dead-letter queue, and the overrides that give
    only the scanner functions the layer, their memory, storage, timeout, reserved concurrency
    and an on-failure destination for their asynchronous invocations."""
    present = [name for name in SCANNER_FUNCTIONS if name in app_functions(app)]
    if not present:
        return {}
    resources: dict[str, Any] = {
        SCANNER_LAYER: {
            "Type": "AWS::Serverless::LayerVersion",
            "Properties": {
                "LayerName": f"{settings.table_prefix}-clamav",
                "Description": "ClamAV (clamd, freshclam) with its libraries and loader, /opt",
                "ContentUri": f"./{SCANNER_LAYER_ZIP}",
                "CompatibleRuntimes": ["python3.11"],
                "CompatibleArchitectures": ["x86_64"],
                "RetentionPolicy": "Delete",
            },
        },
        SCAN_EVENTS_BUS: {
            "Type": "AWS::Events::EventBus",
            "Properties": {"Name": settings.scan_events_bus},
        },
        SCANNER_DLQ: {
            "Type": "AWS::SQS::Queue",
            "Properties": {
                "QueueName": f"{settings.table_prefix}-scanner-dlq",
                "MessageRetentionPeriod": 1209600,
                "SqsManagedSseEnabled": True,
            },
        },
        f"{SCANNER_DLQ}Alarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmDescription": "A scan, sweep or definitions refresh failed after its retries",
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [
                    {"Name": "QueueName", "Value": {"Fn::GetAtt": [SCANNER_DLQ, "QueueName"]}}
                ],
                "Statistic": "Maximum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 0,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [{"Ref": "AlarmTopic"}],
            },
        },
    }
    for name in present:
        spec = SCANNER_FUNCTIONS[name]
        resources[function_logical_id(name)] = {
            "Properties": {
                "Layers": [{"Ref": "ManagedLayer"}, {"Ref": SCANNER_LAYER}],
                "MemorySize": spec.memory_mb,
                "EphemeralStorage": {"Size": spec.ephemeral_mb},
                "Timeout": spec.timeout_seconds,
                "ReservedConcurrentExecutions": spec.reserved_concurrency,
                "Environment": {"Variables": dict(SCANNER_ENVIRONMENT)},
                "EventInvokeConfig": {
                    "MaximumRetryAttempts": 2,
                    "MaximumEventAgeInSeconds": 21600,
                    "DestinationConfig": {
                        "OnFailure": {
                            "Type": "SQS",
                            "Destination": {"Fn::GetAtt": [SCANNER_DLQ, "Arn"]},
                        }
                    },
                },
            }
        }
    return resources


def alarm_topic() -> dict[str, Any]:
    return {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "KmsMasterKeyId": "alias/aws/sns",
                "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"},
            },
        }
    }


def _substitute(value: Any, tokens: dict[str, str]) -> Any:
    if isinstance(value, str):
        for token, replacement in tokens.items():
            value = value.replace("{{" + token + "}}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, tokens) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, tokens) for key, item in value.items()}
    return value


FRAGMENT_SECTIONS = ("Conditions", "Resources", "Outputs")


def observability_fragments(
    settings: Settings, directory: Path = OBSERVABILITY_DIR
) -> list[tuple[str, dict[str, Any]]]:
    """Every `*.json` in `directory`: a CloudFormation fragment (Resources/Outputs/Conditions).

    Strings may use `{{stage}}`, `{{table_prefix}}`, `{{metrics_namespace}}` and `{{service}}`;
    resources may reference the stack's logical ids (`APIHandler`, `ApiHandlerLogGroup`,
    `RestAPI`, `AlarmTopic`, tables, buckets).
    """
    env = stages.stage_environment(settings.stage) if settings.stage in stages.stage_names() else {}
    tokens = {
        "stage": settings.stage,
        "table_prefix": settings.table_prefix,
        "metrics_namespace": env.get("POWERTOOLS_METRICS_NAMESPACE", "Deskguard"),
        "service": env.get("POWERTOOLS_SERVICE_NAME", "deskguard"),
    }
    fragments = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not set(data) <= set(FRAGMENT_SECTIONS) or not data:
            raise TemplateError(
                f"{path.name}: expected a CloudFormation fragment with only {FRAGMENT_SECTIONS}"
            )
        fragments.append((path.name, _substitute(data, tokens)))
    return fragments


# `Fn::Sub` variables the generated ops fragments (infra/security_ops.py) use, and the log group
# placeholder that stands for every function's log group (security events are logged by the API,
# the authorizers and the scanner alike, each in its own group).
API_LOG_GROUP_VARIABLE = "${ApiLogGroupName}"


def function_log_groups(app: Chalice, stage: str) -> list[str]:
    """Logical ids of the functions' log groups (Chalice creates them when the stage sets a
    retention), the API handler's first; empty when the stage sets none."""
    if not stages.stage_option(stage, "log_retention_in_days", None):
        return []
    groups: list[str] = []
    for name in app_functions(app):
        if name == API_HANDLER:
            groups.insert(0, "ApiHandlerLogGroup")
        else:
            groups.append(f"{function_logical_id(name)}LogGroup")
    return groups


def _fragment_variables(stage: str, api_log_group: str) -> dict[str, str]:
    return {
        "${Stage}": stage,
        "${Region}": "${AWS::Region}",
        "${ApiLogGroupName}": api_log_group,
        "${AlarmTopicArn}": "${AlarmTopic}",  # Ref of an SNS topic is its ARN
    }


def _replace(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        for variable, replacement in variables.items():
            value = value.replace(variable, replacement)
        return value
    if isinstance(value, list):
        return [_replace(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, variables) for key, item in value.items()}
    return value


def wire_fragment(fragment: dict[str, Any], stage: str, log_groups: list[str]) -> dict[str, Any]:
    """Resolve a generated fragment's variables against this stack.

    A metric filter on `${ApiLogGroupName}` is created once per function log group (same metric,
    so the alarm sees events from every function: malware from the scanner, authorizer denials
    from the authorizers); a query definition searches all of them.
    """
    placeholder = {"Fn::Sub": API_LOG_GROUP_VARIABLE}
    api_group = f"${{{log_groups[0]}}}" if log_groups else "/aws/lambda/${APIHandler}"
    resources: dict[str, Any] = {}
    for logical_id, resource in fragment.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Logs::MetricFilter" and (
            properties.get("LogGroupName") == placeholder and log_groups
        ):
            for index, group in enumerate(log_groups):
                clone = copy.deepcopy(resource)
                clone["Properties"]["LogGroupName"] = {"Ref": group}
                suffix = "" if index == 0 else group.removesuffix("LogGroup")
                resources[logical_id + suffix] = clone
            continue
        if resource.get("Type") == "AWS::Logs::QueryDefinition" and (
            properties.get("LogGroupNames") == [placeholder] and log_groups
        ):
            searched = copy.deepcopy(resource)
            searched["Properties"]["LogGroupNames"] = [{"Ref": group} for group in log_groups]
            resources[logical_id] = searched
            continue
        resources[logical_id] = resource
    wired = {**fragment, "Resources": resources} if "Resources" in fragment else dict(fragment)
    wired = _replace(wired, _fragment_variables(stage, api_group))
    return wired if isinstance(wired, dict) else {}


def build_template(
    stage: str, app: Chalice | None = None, observability_dir: Path = OBSERVABILITY_DIR
) -> dict[str, Any]:
    """The merge template for `stage`."""
    if stage in stages.LOCAL_STAGES:
        raise TemplateError("the local stage is never deployed")
    if not stages.STAGE_NAME.match(stage):
        raise TemplateError(f"stage name {stage!r} must match {stages.STAGE_NAME.pattern}")
    app = app or load_app()
    settings = stages.stage_settings(stage)
    env = stages.stage_environment(stage)
    if not settings.hsts_enabled:
        raise TemplateError(f"stage {stage}: HSTS_ENABLED must be on in every deployed stage")
    secret_name = env.get("JWT_SIGNING_KEY_SECRET_ID")
    if not secret_name:
        raise TemplateError(f"stage {stage}: JWT_SIGNING_KEY_SECRET_ID is required")
    production = stages.is_production(stage)

    resources: dict[str, Any] = {}
    resources.update(data_key(stage))
    for spec in table_specs():
        resources[spec.logical_id] = table_resource(spec, settings, production)
    scanner_roles = [
        role_logical_id(name)
        for name in app_functions(app)
        if FUNCTION_POLICIES.get(name) == "scanner"
    ]
    for bucket_spec in BUCKETS:
        resources[bucket_spec.logical_id] = bucket_resource(bucket_spec.kind, settings, production)
        resources[f"{bucket_spec.logical_id}Policy"] = bucket_policy(
            bucket_spec.kind, scanner_roles
        )
    resources["SigningKeySecret"] = signing_secret(secret_name)
    resources.update(scanner_wiring(app, settings))
    resources.update(audit_chainer_wiring(app, stage))
    resources.update(scanner_functions(app, settings))
    resources.update(alarm_topic())
    rest_api, extra = rest_api_overrides(app, stage)
    resources["RestAPI"] = rest_api
    resources.update(extra)
    if stages.stage_option(stage, "log_retention_in_days", None) and app.routes:
        # Chalice 1.34 names the API handler's log group after `${ApiHandler}`, a resource it
        # renames to `APIHandler`: point the log group at the real function.
        resources["ApiHandlerLogGroup"] = {
            "Properties": {"LogGroupName": _sub("/aws/lambda/${APIHandler}")}
        }

    outputs: dict[str, Any] = {
        spec.logical_id + "Name": {"Value": {"Ref": spec.logical_id}} for spec in table_specs()
    }
    outputs.update({b.logical_id + "Name": {"Value": {"Ref": b.logical_id}} for b in BUCKETS})
    outputs["SigningKeySecretArn"] = {"Value": {"Ref": "SigningKeySecret"}}
    outputs["AlarmTopicArn"] = {"Value": {"Ref": "AlarmTopic"}}
    if AUDIT_SIGNING_KEY in resources:
        outputs["AuditSigningKeyArn"] = {"Value": {"Fn::GetAtt": [AUDIT_SIGNING_KEY, "Arn"]}}
    template: dict[str, Any] = {"Resources": resources, "Outputs": outputs}

    log_groups = function_log_groups(app, stage)
    for name, raw in observability_fragments(settings, observability_dir):
        fragment = wire_fragment(raw, stage, log_groups)
        for section in FRAGMENT_SECTIONS:
            entries = fragment.get(section, {})
            target = template.setdefault(section, {})
            clash = set(entries) & set(target)
            if clash:
                raise TemplateError(f"{name}: {section} {sorted(clash)} already defined")
            target.update(entries)
    return template


def write_template(stage: str, build_dir: Path = BUILD_DIR) -> Path:
    """Write `build/<stage>/merge-template.json`; returns its path."""
    template = build_template(stage)
    out = build_dir / stage / "merge-template.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", help="stage(s); default: every deployed one")
    args = parser.parse_args(argv)
    for stage in args.stage or stages.deployed_stage_names():
        print(f"wrote {write_template(stage).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
