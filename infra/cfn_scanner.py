"""The malware scanner's wiring in the merge template: the EventBridge rule that invokes the
scanner for each new upload, the ClamAV layer, the scan-events bus, the dead-letter queue and
its alarm, and the overrides that give only the scanner functions the layer, their memory,
storage, timeout, reserved concurrency and an on-failure destination."""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.core.settings import Settings
from infra.cfn_common import invoke_permission
from infra.resources import (
    SCAN_EVENTS_BUS,
    SCANNER_DLQ,
    SCANNER_FUNCTION,
    SCANNER_FUNCTIONS,
    SCANNER_LAYER,
    SCANNER_LAYER_ZIP,
    app_functions,
    function_logical_id,
)


def scanner_wiring(app: Chalice, settings: Settings) -> dict[str, Any]:
    """EventBridge rule: an object created in the uploads bucket invokes the scanner."""
    if SCANNER_FUNCTION not in {f.name for f in app.pure_lambda_functions}:
        return {}  # (an @on_s3_event scanner cannot be packaged by Chalice: see docs/deploy.md)
    function = function_logical_id(SCANNER_FUNCTION)
    return {
        "UploadCreatedRule": {
            "Type": "AWS::Events::Rule",
            "Properties": upload_rule(settings, {"Fn::GetAtt": [function, "Arn"]}),
        },
        "UploadCreatedInvokePermission": invoke_permission(
            function, "events.amazonaws.com", {"Fn::GetAtt": ["UploadCreatedRule", "Arn"]}
        ),
    }


def upload_rule(settings: Settings, target_arn: Any) -> dict[str, Any]:
    """The rule's properties: an object created in this stage's uploads bucket -> `target_arn`."""
    return {
        "Description": "New upload -> malware scan",
        "EventPattern": {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [settings.uploads_bucket]}},
        },
        "Targets": [{"Id": "scanner", "Arn": target_arn}],
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
        **scanner_data_resources(settings),
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
                "EventInvokeConfig": event_invoke_config({"Fn::GetAtt": [SCANNER_DLQ, "Arn"]}),
            }
        }
    return resources


def scanner_data_resources(settings: Settings) -> dict[str, Any]:
    """The scan-events bus, the scanner's dead-letter queue and its alarm (no function needed)."""
    return {
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


def event_invoke_config(dead_letter_arn: Any) -> dict[str, Any]:
    """Asynchronous invocations of a scanner function: two retries, then the dead-letter queue."""
    return {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": 21600,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": dead_letter_arn}},
    }
