"""The attachment buckets as infra/attachments.json deploys them: what stops a download of an
unscanned object, or a deletion of evidence, even if the application had a bug."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TEMPLATE = json.loads((Path(__file__).parents[2] / "infra" / "attachments.json").read_text())
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def _statements(policy: str) -> dict[str, dict[str, Any]]:
    document = RESOURCES[policy]["Properties"]["PolicyDocument"]
    return {statement["Sid"]: statement for statement in document["Statement"]}


def test_buckets_are_private_versioned_and_encrypted() -> None:
    for name in ("UploadsBucket", "QuarantineBucket", "DefinitionsBucket"):
        props = RESOURCES[name]["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values()), name
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}, name
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], name


def test_uploads_are_readable_only_when_tagged_clean() -> None:
    deny = _statements("UploadsBucketPolicy")["DenyReadUnlessScannedClean"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert set(deny["Action"]) == {"s3:GetObject", "s3:GetObjectVersion"}
    assert deny["Condition"]["StringNotEquals"] == {"s3:ExistingObjectTag/av-status": "CLEAN"}
    # Only the scanner may read what it has not judged yet.
    assert deny["Condition"]["ArnNotEquals"] == {"aws:PrincipalArn": {"Ref": "ScannerRoleArn"}}


def test_app_roles_cannot_delete_from_quarantine() -> None:
    props = RESOURCES["QuarantineBucket"]["Properties"]
    assert props["ObjectLockEnabled"] is True
    deny = _statements("QuarantineBucketPolicy")["AppRolesNeverDeleteOrRead"]
    assert deny["Effect"] == "Deny"
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set(
        deny["Action"]
    )
    scanner = _statements("ScannerPolicy")["WriteQuarantineOnly"]
    assert not any("Delete" in action for action in scanner["Action"])
    api = RESOURCES["ApiAttachmentsPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert not any("Quarantine" in json.dumps(statement) for statement in api)
