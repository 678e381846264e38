"""S3 buckets for the local stack and the tests (tables come from `chalicelib.tables`)."""

from __future__ import annotations

import boto3

from chalicelib.core.settings import get_settings


def bucket_names() -> list[str]:
    settings = get_settings()
    return [settings.uploads_bucket, settings.quarantine_bucket, settings.definitions_bucket]


def create_buckets() -> None:
    """Create the private buckets the app uses, if missing."""
    settings = get_settings()
    s3 = boto3.client("s3", region_name=settings.region)
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    for name in bucket_names():
        if name not in existing:
            s3.create_bucket(Bucket=name)
        # Attachments: private, encrypted, versioned buckets (as infra/ describes for AWS). The
        # version id is what ties a scan verdict to the exact bytes that were scanned.
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
