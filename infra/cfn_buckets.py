"""The S3 buckets of the merge template (uploads, quarantine, definitions, audit archive,
inbound mail) and
their bucket policies: private, encrypted, versioned, TLS 1.2+ only; uploads readable only once
tagged CLEAN (except by the scanner functions), quarantine never readable, the audit archive
under COMPLIANCE Object Lock."""

from __future__ import annotations

import copy
from typing import Any

from chalicelib.core.settings import Settings
from infra.cfn_common import retain, sub
from infra.resources import bucket

CLEAN_TAG = ("av-status", "CLEAN")

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
    "inbound_mail": [
        {"Id": "ExpireRawMail", "Status": "Enabled", "ExpirationInDays": 90,
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
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
    if kind in ("uploads", "inbound_mail"):
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
    return retain(
        {"Type": "AWS::S3::Bucket", "Properties": properties},
        production or kind == "audit_archive",
    )


def bucket_policy(
    kind: str, scanner_roles: list[str], scanner_role_arns: list[Any] | None = None
) -> dict[str, Any]:
    """TLS-only (1.2+) for every bucket; uploads readable only once tagged CLEAN.

    The scanner's roles are logical ids in the same stack (`scanner_roles`) or, when the roles
    live elsewhere (functions deployed by `chalice deploy`), ARN expressions (`scanner_role_arns`).
    """
    spec = bucket(kind)
    arn = sub(f"${{{spec.logical_id}.Arn}}")
    objects = sub(f"${{{spec.logical_id}.Arn}}/*")
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
        readers = [{"Fn::GetAtt": [role, "Arn"]} for role in scanner_roles]
        readers += scanner_role_arns or []
        if readers:
            # The scanner functions must read a file before it is CLEAN; nobody else may.
            condition["ArnNotEquals"] = {"aws:PrincipalArn": readers}
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
    if kind == "inbound_mail":
        statements.append(
            {
                # SES's receipt rule stores each received message under inbound/ (this account).
                "Sid": "AllowSesReceipt",
                "Effect": "Allow",
                "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "s3:PutObject",
                "Resource": [sub(f"${{{spec.logical_id}.Arn}}/inbound/*")],
                "Condition": {"StringEquals": {"aws:SourceAccount": sub("${AWS::AccountId}")}},
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
