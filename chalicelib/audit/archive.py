"""The audit archive in AWS: signing checkpoints with KMS and reading/writing the Object Lock
bucket. The format and its verification are in `chalicelib.audit.checkpoints` (no AWS).

The signing key is an asymmetric KMS key (ECC_NIST_P256, SIGN_VERIFY): its key policy lets only
the chainer's role call `kms:Sign`; anyone allowed `kms:GetPublicKey` can verify. Objects are put
with `ObjectLockMode=COMPLIANCE` and a retain-until date `audit_archive_retention_days` ahead:
until then nobody, not even the account root, can delete or overwrite those versions.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.audit.checkpoints import (
    SIGNING_ALGORITHM,
    canonical_json,
    org_archive_prefix,
)
from chalicelib.core.settings import get_settings


def _kms() -> Any:
    return boto3.client("kms", region_name=get_settings().region)


def _s3() -> Any:
    return boto3.client("s3", region_name=get_settings().region)


def sign_checkpoint(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The signed checkpoint document (`{"checkpoint", "algorithm", "signature"}`)."""
    response = _kms().sign(
        KeyId=get_settings().audit_signing_key_id,
        Message=canonical_json(dict(checkpoint)).encode(),
        MessageType="RAW",
        SigningAlgorithm=SIGNING_ALGORITHM,
    )
    return {
        "checkpoint": dict(checkpoint),
        "algorithm": SIGNING_ALGORITHM,
        "signature": base64.b64encode(response["Signature"]).decode(),
    }


def signing_key_id() -> str:
    """The signing key as configured (recorded in each checkpoint as `keyId`)."""
    return get_settings().audit_signing_key_id


def kms_verifier() -> Any:
    """A signature check through KMS `Verify` (the service's own verification)."""
    kms = _kms()
    key_id = get_settings().audit_signing_key_id

    def check(message: bytes, signature: bytes) -> bool:
        try:
            response = kms.verify(
                KeyId=key_id,
                Message=message,
                MessageType="RAW",
                Signature=signature,
                SigningAlgorithm=SIGNING_ALGORITHM,
            )
        except kms.exceptions.KMSInvalidSignatureException:
            return False
        return bool(response.get("SignatureValid"))

    return check


def public_key_pem() -> bytes:
    """The signing key's public half, PEM (what an outside verifier is given; needs
    `cryptography`, so it is for tools and tests, not the Lambda functions)."""
    der = _kms().get_public_key(KeyId=get_settings().audit_signing_key_id)["PublicKey"]
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_der_public_key(der)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def put_locked(key: str, body: bytes, content_type: str) -> None:
    """Write one write-once object: COMPLIANCE lock for the retention setting."""
    settings = get_settings()
    retain_until = datetime.now(UTC) + timedelta(days=settings.audit_archive_retention_days)
    _s3().put_object(
        Bucket=settings.audit_archive_bucket,
        Key=key,
        Body=body,
        ContentType=content_type,
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=retain_until,
        ChecksumAlgorithm="SHA256",
    )


def _latest_versions(prefix: str) -> dict[str, str]:
    """Key -> version id of the newest version of every object under `prefix`.

    Delete markers are ignored: under Object Lock a delete only hides a version, and the
    verifier reads what was written, not what is currently shown.
    """
    paginator = _s3().get_paginator("list_object_versions")
    newest: dict[str, tuple[datetime, str]] = {}
    for page in paginator.paginate(Bucket=get_settings().audit_archive_bucket, Prefix=prefix):
        for version in page.get("Versions", []):
            key, modified = version["Key"], version["LastModified"]
            if key not in newest or modified > newest[key][0]:
                newest[key] = (modified, version["VersionId"])
    return {key: version for key, (_, version) in newest.items()}


def read_org_archive(organization_id: str) -> dict[str, bytes]:
    """Every archived object of the organization, by key (newest version of each)."""
    s3 = _s3()
    bucket = get_settings().audit_archive_bucket
    objects: dict[str, bytes] = {}
    for key, version in _latest_versions(org_archive_prefix(organization_id)).items():
        response = s3.get_object(Bucket=bucket, Key=key, VersionId=version)
        objects[key] = response["Body"].read()
    return objects
