"""ClamAV definitions: published to the definitions bucket, synced to /tmp, served by clamd.

The definitions bucket holds, under `CLAMAV_DEFINITIONS_PREFIX`, the database files and
`manifest.json`: `{"version", "publishedAt", "files": {name: sha256}}`. The manifest is written
last, so a scanner never syncs a half-published set; its version names the set, is recorded on
every verdict and decides which CLEAN attachments are rescanned after a refresh.

- The scan functions copy the manifest's files to `CLAMAV_DEFINITIONS_DIR` (in /tmp) on a cold
  start and re-check the manifest at most every `DEFINITIONS_SYNC_INTERVAL_SECONDS`; a new version
  makes the resident clamd reload. Locally and in tests (`CLAMAV_DEFINITIONS_FROM_S3=false`) the
  directory is served as it is, labelled by a digest of its files.
- `refresh_definitions` (scheduled) seeds freshclam with the published files, runs it against the
  official mirror, a private mirror (`PrivateMirror`) and/or custom database URLs, starts a
  throw-away clamd on the result (a set clamd cannot load is never published), then uploads the
  changed files and a new manifest.

An empty or missing set makes every scan fail (fail closed).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.attachments import storage
from chalicelib.attachments.scanning.clamd import MARKER_FILE, ClamdEngine, directory_version
from chalicelib.attachments.scanning.engine import (
    DEFINITION_SUFFIXES,
    ScanEngineError,
    Verdict,
)
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

MANIFEST = "manifest.json"
LOCAL_MANIFEST = ".manifest.json"
_state_lock = threading.Lock()
# None until the first sync: a fresh execution environment has a small monotonic clock (it
# counts from its own boot), so "0.0" would look like a sync moments ago and skip the first one.
_last_sync: float | None = None
_engine: ClamdEngine | None = None


class DefinitionsRefreshFailed(Exception):
    """freshclam did not produce usable definitions; the bucket was left unchanged."""


@dataclass(frozen=True)
class Manifest:
    version: str
    published_at: str
    files: dict[str, str]

    def document(self) -> dict[str, Any]:
        return {"version": self.version, "publishedAt": self.published_at, "files": self.files}

    @classmethod
    def parse(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        files = {str(k): str(v) for k, v in dict(data["files"]).items()}
        if not all(_is_definition_name(name) for name in files):
            raise ValueError("manifest names a file that is not a definitions file")
        return cls(str(data["version"]), str(data["publishedAt"]), files)


def _is_definition_name(name: str) -> bool:
    return "/" not in name and not name.startswith(".") and name.endswith(DEFINITION_SUFFIXES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def definition_files(directory: Path) -> dict[str, str]:
    """{name: sha256} of the definitions files in `directory`."""
    if not directory.is_dir():
        return {}
    return {
        path.name: _sha256(path)
        for path in sorted(directory.iterdir())
        if _is_definition_name(path.name) and path.name != MARKER_FILE and path.is_file()
    }


def new_version(files: dict[str, str], at: datetime) -> str:
    """`<UTC time>-<digest of the set>`: sorts by publication time, names the exact files."""
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:12]
    return f"{at.strftime('%Y%m%dT%H%M%SZ')}-{digest}"


def _key(name: str) -> str:
    return f"{get_settings().clamav_definitions_prefix}{name}"


def published_manifest() -> Manifest | None:
    """The manifest in the definitions bucket, or None when nothing was published yet."""
    try:
        body = storage.s3().get_object(Bucket=get_settings().definitions_bucket, Key=_key(MANIFEST))
    except ClientError as error:
        if storage.is_missing(error):
            return None
        raise
    return Manifest.parse(body["Body"].read())


def local_manifest(directory: str) -> Manifest | None:
    path = Path(directory) / LOCAL_MANIFEST
    try:
        return Manifest.parse(path.read_bytes())
    except (OSError, ValueError, KeyError):
        return None


def sync_from_s3(directory: str) -> Manifest | None:
    """Make `directory` hold exactly the published set (files checked against the manifest);
    returns the manifest now in the directory, or None when nothing is published."""
    manifest = published_manifest()
    if manifest is None:
        return None
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    current = local_manifest(directory)
    if current is not None and current.version == manifest.version:
        return current
    settings = get_settings()
    for name, digest in manifest.files.items():
        target = folder / name
        if target.exists() and _sha256(target) == digest:
            continue
        partial = folder / f".{name}.part"
        storage.s3().download_file(settings.definitions_bucket, _key(name), str(partial))
        if _sha256(partial) != digest:
            partial.unlink()
            raise ValueError(f"definitions file {name} does not match the manifest")
        os.replace(partial, target)
    for stale in set(definition_files(folder)) - set(manifest.files):
        (folder / stale).unlink()
    (folder / LOCAL_MANIFEST).write_text(json.dumps(manifest.document()))
    return manifest


def current_definitions(*, force_sync: bool = False) -> tuple[str, str]:
    """(directory, version) of the definitions the scanner serves, synced from S3 when due."""
    global _last_sync
    settings = get_settings()
    directory = settings.clamav_definitions_dir
    if not settings.clamav_definitions_from_s3:
        return directory, directory_version(directory)
    due = _last_sync is None or (
        time.monotonic() - _last_sync > settings.definitions_sync_interval_seconds
    )
    if force_sync or due or local_manifest(directory) is None:
        try:
            manifest = sync_from_s3(directory)
        except Exception as error:
            # Scanning with the copy already in /tmp (if any) is still a real scan; with none,
            # the engine refuses to run and the attachment goes to ERROR.
            logger.warning("definitions sync failed", extra={"error": type(error).__name__})
        else:
            _last_sync = time.monotonic()
            logger.info(
                "definitions synced", extra={"version": manifest.version if manifest else None}
            )
    local = local_manifest(directory)
    return directory, local.version if local else directory_version(directory)


def _new_engine(work_dir: str) -> ClamdEngine:
    settings = get_settings()
    return ClamdEngine(
        command=settings.clamd_command,
        work_dir=work_dir,
        timeout_seconds=settings.scan_timeout_seconds,
        startup_timeout_seconds=settings.clamd_startup_timeout_seconds,
        max_stream_bytes=settings.attachment_max_bytes,
    )


def resident_engine() -> ClamdEngine:
    """The execution environment's clamd engine (created once; the daemon starts on demand)."""
    global _engine
    settings = get_settings()
    with _state_lock:
        engine = _engine
        if engine is None or _configuration(engine) != _wanted_configuration():
            if engine is not None:
                engine.stop()
            engine = _engine = _new_engine(settings.clamd_work_dir)
    return engine


def _configuration(engine: ClamdEngine) -> tuple[object, ...]:
    return (tuple(engine.command), str(engine.work), engine.timeout_seconds)


def _wanted_configuration() -> tuple[object, ...]:
    settings = get_settings()
    return (settings.clamd_command, settings.clamd_work_dir, float(settings.scan_timeout_seconds))


def default_engine() -> ClamdEngine:
    """The production engine: the resident clamd serving the current definitions."""
    engine = resident_engine()
    directory, version = current_definitions()
    engine.ensure_definitions(directory, version)
    return engine


def stop_resident_engine() -> None:
    """Stop the resident daemon (interpreter exit, tests)."""
    global _engine
    with _state_lock:
        engine, _engine = _engine, None
    if engine is not None:
        engine.stop()


atexit.register(stop_resident_engine)


def freshclam_config(directory: str) -> str:
    """freshclam.conf: the official mirror, or private mirrors, plus custom database URLs."""
    settings = get_settings()
    lines = [f"DatabaseDirectory {directory}", "Foreground yes", "CompressLocalDatabase no"]
    if os.getuid() == 0:
        # As root freshclam drops to `DatabaseOwner`; stay the user that owns the directory.
        import pwd

        lines.append(f"DatabaseOwner {pwd.getpwuid(os.getuid()).pw_name}")
    if settings.clamav_private_mirrors:
        lines += [f"PrivateMirror {mirror}" for mirror in settings.clamav_private_mirrors]
    else:
        lines += ["DatabaseMirror database.clamav.net", "ScriptedUpdates yes"]
    if not settings.clamav_official_databases:
        lines += [f"ExcludeDatabase {name}" for name in ("main", "daily", "bytecode")]
    lines += [f"DatabaseCustomURL {url}" for url in settings.clamav_custom_database_urls]
    return "\n".join(lines) + "\n"


def _download(directory: Path, manifest: Manifest | None) -> None:
    """The published files, dated as published: freshclam asks a custom database URL for a file
    only if it changed since the local copy's modification time."""
    if manifest is None:
        return
    bucket = get_settings().definitions_bucket
    published = datetime.fromisoformat(manifest.published_at).timestamp()
    for name in manifest.files:
        storage.s3().download_file(bucket, _key(name), str(directory / name))
        os.utime(directory / name, (published, published))


def refresh_definitions() -> dict[str, Any]:
    """Run freshclam against the published definitions and publish what changed.

    Returns `{"version", "updated"}` (the new version, or the unchanged one with `updated` empty).
    Seeded with the bucket's files so freshclam fetches only diffs. The new set is loaded by a
    throw-away clamd and a probe scanned with it before anything is uploaded: a broken download
    never replaces working definitions.
    """
    settings = get_settings()
    published = published_manifest()
    with tempfile.TemporaryDirectory(prefix="freshclam-", dir="/tmp") as work:
        data_dir = Path(work) / "db"
        data_dir.mkdir()
        _download(data_dir, published)
        config = Path(work) / "freshclam.conf"
        config.write_text(freshclam_config(str(data_dir)))
        try:
            completed = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                [*settings.freshclam_command, f"--config-file={config}", "--stdout"],
                capture_output=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DefinitionsRefreshFailed(
                f"freshclam could not run: {type(error).__name__}"
            ) from None
        if completed.returncode != 0:
            tail = completed.stdout.decode(errors="replace").strip().splitlines()[-2:]
            raise DefinitionsRefreshFailed(f"freshclam exit code {completed.returncode}: {tail}")
        files = definition_files(data_dir)
        if published is not None and files == published.files:
            return {"version": published.version, "updated": []}
        version = new_version(files, datetime.now(UTC))
        _self_test(str(data_dir), version, Path(work))
        changed = [n for n, d in files.items() if published is None or published.files.get(n) != d]
        for name in changed:
            storage.s3().upload_file(
                str(data_dir / name),
                settings.definitions_bucket,
                _key(name),
                ExtraArgs={"ServerSideEncryption": "AES256"},
            )
        manifest = Manifest(version, datetime.now(UTC).isoformat(timespec="seconds"), files)
        storage.s3().put_object(
            Bucket=settings.definitions_bucket,
            Key=_key(MANIFEST),
            Body=json.dumps(manifest.document(), indent=2).encode(),
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
    logger.info("definitions published", extra={"version": version, "files": changed})
    return {"version": version, "updated": changed}


def _self_test(directory: str, version: str, work: Path) -> None:
    engine = _new_engine(str(work / "clamd"))
    probe = work / "probe.txt"
    probe.write_text("definitions self-test\n")
    try:
        engine.ensure_definitions(directory, version)
        if engine.scan_file(str(probe)).verdict is not Verdict.CLEAN:
            raise ScanEngineError("the new definitions flag a plain text file")
    except ScanEngineError as error:
        raise DefinitionsRefreshFailed(f"new definitions unusable: {error}") from None
    finally:
        engine.stop()
