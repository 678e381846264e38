"""ClamAV definitions: where the scanner reads them, and how they are refreshed in AWS.

In AWS the definitions live in the definitions bucket under `CLAMAV_DEFINITIONS_PREFIX`. The scan
function copies them to `CLAMAV_DEFINITIONS_DIR` (in /tmp) on a cold start and re-checks the
bucket at most every `_SYNC_INTERVAL_SECONDS`; the scheduled refresh function runs `freshclam`
and uploads what changed. Locally and in tests (`CLAMAV_DEFINITIONS_FROM_S3=false`) the directory
is used as it is. An empty or missing directory makes every scan fail (fail closed).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from chalicelib.attachments import storage
from chalicelib.attachments.scanning.engine import (
    DEFINITION_SUFFIXES,
    ClamscanEngine,
    ScanEngineError,
)
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

_SYNC_INTERVAL_SECONDS = 300.0
# None until the first sync: a fresh execution environment has a small monotonic clock (it
# counts from its own boot), so "0.0" would look like a sync moments ago and skip the first one.
_last_sync: float | None = None
_synced_etags: dict[str, str] = {}


class DefinitionsRefreshFailed(Exception):
    """freshclam did not produce usable definitions; the bucket was left unchanged."""


def sync_from_s3(directory: str) -> int:
    """Copy changed definition files from the bucket into `directory`; returns files copied."""
    settings = get_settings()
    client = storage.s3()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    copied = 0
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=settings.definitions_bucket, Prefix=settings.clamav_definitions_prefix
    )
    for page in pages:
        for entry in page.get("Contents", []):
            name = entry["Key"][len(settings.clamav_definitions_prefix) :]
            if "/" in name or not name.endswith(DEFINITION_SUFFIXES):
                continue
            if _synced_etags.get(name) == entry["ETag"] and (folder / name).exists():
                continue
            partial = folder / f".{name}.part"
            client.download_file(settings.definitions_bucket, entry["Key"], str(partial))
            os.replace(partial, folder / name)
            _synced_etags[name] = entry["ETag"]
            copied += 1
    return copied


def ensure_local_definitions() -> str:
    """The definitions directory, synced from S3 first when configured to."""
    global _last_sync
    settings = get_settings()
    directory = settings.clamav_definitions_dir
    if settings.clamav_definitions_from_s3 and (
        _last_sync is None or time.monotonic() - _last_sync > _SYNC_INTERVAL_SECONDS
    ):
        try:
            copied = sync_from_s3(directory)
        except Exception as error:
            # Scanning with the copy already in /tmp (if any) is still a real scan; with none,
            # the engine refuses to run and the attachment goes to ERROR.
            logger.warning("definitions sync failed", extra={"error": type(error).__name__})
        else:
            _last_sync = time.monotonic()
            logger.info("definitions synced", extra={"files_copied": copied})
    return directory


def default_engine() -> ClamscanEngine:
    """The production engine, configured from settings."""
    settings = get_settings()
    return ClamscanEngine(
        binary=settings.clamscan_path,
        definitions_dir=ensure_local_definitions(),
        timeout_seconds=settings.scan_timeout_seconds,
    )


def freshclam_config(directory: str) -> str:
    return (
        f"DatabaseDirectory {directory}\n"
        "DatabaseMirror database.clamav.net\n"
        "DNSDatabaseInfo current.cvd.clamav.net\n"
        "ScriptedUpdates yes\n"
        "CompressLocalDatabase no\n"
        "Foreground yes\n"
    )


def refresh_definitions() -> list[str]:
    """Run freshclam against the current definitions and upload what changed; returns names.

    Seeded with the bucket's files so freshclam fetches only diffs. The new set is checked by
    scanning a file with it before anything is uploaded: a broken download never replaces
    working definitions.
    """
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="freshclam-") as work:
        data_dir = Path(work) / "db"
        data_dir.mkdir()
        sync_from_s3(str(data_dir))
        before = {p.name: p.stat().st_mtime_ns for p in data_dir.iterdir()}
        config = Path(work) / "freshclam.conf"
        config.write_text(freshclam_config(str(data_dir)))
        try:
            completed = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [settings.freshclam_path, f"--config-file={config}", "--stdout"],
                capture_output=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DefinitionsRefreshFailed(
                f"freshclam could not run: {type(error).__name__}"
            ) from None
        if completed.returncode != 0:
            raise DefinitionsRefreshFailed(f"freshclam exit code {completed.returncode}")
        _check_definitions(str(data_dir), work)
        changed = [
            p
            for p in sorted(data_dir.iterdir())
            if p.suffix in DEFINITION_SUFFIXES and before.get(p.name) != p.stat().st_mtime_ns
        ]
        for path in changed:
            storage.s3().upload_file(
                str(path),
                settings.definitions_bucket,
                f"{settings.clamav_definitions_prefix}{path.name}",
                ExtraArgs={"ServerSideEncryption": "AES256"},
            )
        return [p.name for p in changed]


def _check_definitions(directory: str, work: str) -> None:
    probe = Path(work) / "probe.txt"
    probe.write_text("definitions self-test\n")
    engine = ClamscanEngine(get_settings().clamscan_path, directory, 300)
    try:
        engine.scan_file(str(probe))
    except ScanEngineError as error:
        raise DefinitionsRefreshFailed(f"new definitions unusable: {error}") from None
