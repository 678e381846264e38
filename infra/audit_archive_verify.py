"""Verify an organization's audit archive from the outside: only the archive and the public key.

    python -m infra.audit_archive_verify --org ORG --public-key audit-signing.pem --dir ./archive
    python -m infra.audit_archive_verify --org ORG --public-key audit-signing.pem --bucket NAME

`--dir` reads a downloaded copy (e.g. `aws s3 sync s3://<archive bucket>/audit/ ./archive/audit/`),
`--bucket` reads the bucket itself (the newest version of every object; delete markers do not
hide anything). The public key is PEM or DER (`aws kms get-public-key` returns DER, base64).
No table is read and nothing of the service's configuration is needed: the checks are those of
`chalicelib.audit.checkpoints` (signatures, the checkpoint chain, each records object's digest
and hash chain). Prints the report as JSON; exit status 0 if intact, 1 if broken, 2 on usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from chalicelib.audit.checkpoints import org_archive_prefix, public_key_verifier, verify_archive


def _public_key_pem(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw.lstrip().startswith(b"-----BEGIN"):
        return raw
    from cryptography.hazmat.primitives import serialization

    return serialization.load_der_public_key(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def read_directory(root: Path, organization_id: str) -> dict[str, bytes]:
    """Objects of a downloaded archive (`<root>/audit/<org>/...`), by their bucket key."""
    base = root / org_archive_prefix(organization_id)
    if not base.is_dir():
        return {}
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(base.rglob("*"))
        if path.is_file()
    }


def read_bucket(bucket: str, organization_id: str) -> dict[str, bytes]:
    """Objects of the archive bucket (newest version of each key), by key."""
    import boto3

    s3 = boto3.client("s3")
    newest: dict[str, tuple[object, str]] = {}
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket, Prefix=org_archive_prefix(organization_id)):
        for version in page.get("Versions", []):
            key = version["Key"]
            if key not in newest or version["LastModified"] > newest[key][0]:
                newest[key] = (version["LastModified"], version["VersionId"])
    return {
        key: s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
        for key, (_, version_id) in newest.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--org", required=True)
    parser.add_argument("--public-key", required=True, type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--dir", type=Path, help="a downloaded copy of the archive")
    source.add_argument("--bucket", help="the archive bucket")
    args = parser.parse_args(argv)
    objects = read_directory(args.dir, args.org) if args.dir else read_bucket(args.bucket, args.org)
    checkpoints = {key: body for key, body in objects.items() if "/checkpoints/" in key}
    verifier = public_key_verifier(_public_key_pem(args.public_key))
    report = verify_archive(args.org, checkpoints, objects, verifier)
    print(json.dumps(report.to_json(), sort_keys=True))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
