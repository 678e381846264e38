"""The audit chainer's wiring in the merge template: the event source mapping from the audit
table's stream (`chalicelib.audit.chainer.STREAM_FILTER`), the asymmetric KMS key that signs
checkpoints (only the chainer's roles may `Sign`) with its alias, and an alarm on the stream's
iterator age."""

from __future__ import annotations

import json
from typing import Any

from chalice.app import Chalice

from chalicelib.audit.chainer import STREAM_FILTER
from infra.cfn_common import sub
from infra.resources import (
    AUDIT_CHAINER_FUNCTION,
    AUDIT_SIGNING_KEY,
    FUNCTION_POLICIES,
    app_functions,
    function_logical_id,
    role_logical_id,
)

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
    # By name pattern, not `Fn::GetAtt` (the roles' policies name this key: a cycle). CFN names
    # Chalice's roles `<stack>-<LogicalId>-<suffix>`.
    signers = [
        sub(
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${AWS::StackName}-"
            f"{role_logical_id(name)}-*"
        )
        for name in chainer_functions
    ]
    return {
        "AuditChainerStream": audit_stream_mapping({"Ref": function}),
        **audit_signing_key(stage, signers),
        "AuditChainerLagAlarm": audit_lag_alarm({"Ref": function}),
    }


def audit_stream_mapping(function: Any) -> dict[str, Any]:
    """The audit table's stream -> `function` (the chainer), new records only, never skipped."""
    return {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["AuditTable", "StreamArn"]},
            "FunctionName": function,
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": AUDIT_CHAINER_BATCH_SIZE,
            "MaximumBatchingWindowInSeconds": AUDIT_CHAINER_BATCHING_WINDOW_SECONDS,
            "ParallelizationFactor": 1,
            "MaximumRetryAttempts": -1,
            "MaximumRecordAgeInSeconds": -1,
            "BisectBatchOnFunctionError": False,
            "FilterCriteria": {"Filters": [{"Pattern": json.dumps(STREAM_FILTER, sort_keys=True)}]},
        },
    }


def audit_signing_key(stage: str, signers: list[Any]) -> dict[str, Any]:
    """The checkpoint signing key and its alias: only the `signers` role ARNs may `Sign`."""
    account_root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    return {
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
    }


def audit_lag_alarm(function: Any) -> dict[str, Any]:
    """An alarm when the chainer (`function`: its name) falls behind the stream."""
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": "The audit chainer is behind the audit table's stream",
            "Namespace": "AWS/Lambda",
            "MetricName": "IteratorAge",
            "Dimensions": [{"Name": "FunctionName", "Value": function}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 5,
            "Threshold": AUDIT_CHAINER_MAX_AGE_MS,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "AlarmTopic"}],
        },
    }
