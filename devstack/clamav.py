"""A tiny ClamAV signature database for the local stack and the tests.

Official definitions cannot be downloaded here, so the scanner runs on one MD5 signature of the
EICAR anti-virus test file (the industry-standard harmless "virus"). Any other file scans clean,
which is exactly what a local run and the tests need. The EICAR string is split so that this source
file itself is never flagged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!" + b"$H+H*"
SIGNATURE_NAME = "Deskguard.Test.EICAR"
DB_FILENAME = "deskguard-test.hdb"


def hdb_line(content: bytes, name: str) -> str:
    """One `.hdb` line: `md5:size:name` (what `sigtool --md5` prints)."""
    return f"{hashlib.md5(content).hexdigest()}:{len(content)}:{name}\n"  # noqa: S324 (ClamAV format)


def write_test_definitions(directory: Path) -> Path:
    """Write the EICAR `.hdb` into `directory` (created if needed); returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / DB_FILENAME
    path.write_text(hdb_line(EICAR, SIGNATURE_NAME))
    return path


def scanning_problem() -> str | None:
    """Why the local stack cannot scan uploads (printed at start), or None when it can."""
    import shutil

    from chalicelib.attachments.scanning.engine import has_definitions
    from chalicelib.core.settings import get_settings

    settings = get_settings()
    daemon = settings.clamd_command[0] if settings.clamd_command else ""
    if not daemon or shutil.which(daemon) is None:
        return (
            f"`{daemon or 'clamd'}` is not installed (Debian package clamav-daemon; "
            "`make system-deps` installs it): every upload will end in ERROR"
        )
    if not has_definitions(settings.clamav_definitions_dir):
        return f"no ClamAV definitions in {settings.clamav_definitions_dir}"
    return None
