"""ClamAV definitions in AWS: synced from the definitions bucket (by its manifest) into the
scanner's directory and served by the resident clamd; a failed freshclam refresh never replaces
the definitions in the bucket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest

from chalicelib.attachments.scanning import definitions
from chalicelib.attachments.scanning.engine import ScanEngineError, Verdict
from chalicelib.core.settings import get_settings, override
from tests.support.av import EICAR, build_signature_db, clamd_work_dir


def _put_definitions(source: Path) -> str:
    """Publish `source` as the refresh function does (files, then the manifest); its version."""
    settings = get_settings()
    s3 = boto3.client("s3")
    files = definitions.definition_files(source)
    for name in files:
        s3.put_object(
            Bucket=settings.definitions_bucket,
            Key=f"{settings.clamav_definitions_prefix}{name}",
            Body=(source / name).read_bytes(),
        )
    version = definitions.new_version(files, datetime.now(UTC))
    manifest = definitions.Manifest(version, datetime.now(UTC).isoformat(), files)
    s3.put_object(
        Bucket=settings.definitions_bucket,
        Key=f"{settings.clamav_definitions_prefix}{definitions.MANIFEST}",
        Body=json.dumps(manifest.document()).encode(),
    )
    return version


@pytest.fixture(autouse=True)
def _own_clamd() -> Iterator[None]:
    with override(clamd_work_dir=clamd_work_dir()):
        yield


def test_scanner_loads_definitions_from_the_bucket(tmp_path: Path) -> None:
    version = _put_definitions(build_signature_db(tmp_path / "published"))
    target = tmp_path / "lambda-tmp" / "defs"
    sample = tmp_path / "sample"
    sample.write_bytes(EICAR)
    with override(clamav_definitions_dir=str(target), clamav_definitions_from_s3=True):
        definitions._last_sync = None
        engine = definitions.default_engine()
        result = engine.scan_file(str(sample))
    assert result.verdict is Verdict.INFECTED
    assert result.definitions_version == version
    assert sorted(p.name for p in target.iterdir()) == [".manifest.json", "tests.hdb"]


def test_empty_bucket_means_no_scan(tmp_path: Path) -> None:
    sample = tmp_path / "sample"
    sample.write_bytes(b"hello")
    with override(clamav_definitions_dir=str(tmp_path / "defs"), clamav_definitions_from_s3=True):
        definitions._last_sync = None
        with pytest.raises(ScanEngineError):
            definitions.default_engine().scan_file(str(sample))


@pytest.mark.parametrize("freshclam", ["missing", "failing"])
def test_failed_refresh_leaves_definitions_untouched(tmp_path: Path, freshclam: str) -> None:
    _put_definitions(build_signature_db(tmp_path / "published"))
    binary = tmp_path / "freshclam"
    if freshclam == "failing":
        binary.write_text("#!/bin/sh\necho 'Can't connect to port 443' >&2\nexit 57\n")
        binary.chmod(0o755)
    settings = get_settings()
    before = boto3.client("s3").list_object_versions(Bucket=settings.definitions_bucket)
    with (
        override(freshclam_command=(str(binary),)),
        pytest.raises(definitions.DefinitionsRefreshFailed),
    ):
        definitions.refresh_definitions()
    after = boto3.client("s3").list_object_versions(Bucket=settings.definitions_bucket)
    assert [v["VersionId"] for v in after["Versions"]] == [
        v["VersionId"] for v in before["Versions"]
    ]
