"""The antivirus engine: one small interface, and its per-file `clamscan` implementation.

The contract is fail closed: `scan_file()` returns a verdict only when the engine positively said
"clean" or "infected". Anything else (binary missing, no definitions, timeout, killed, an exit
code other than 0/1, output that does not name the file) raises `ScanEngineError`, and the caller
must never treat that as clean.

The scanner runs the resident daemon (`scanning.clamd.ClamdEngine`). `ClamscanEngine` loads the
whole database for every file, as the published S3 antivirus functions do; it stays as the
baseline `bench/scan.py` measures the daemon against.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import subprocess
from pathlib import Path
from typing import Protocol

# ClamAV's skip limits: files above them are reported "OK" unscanned unless told to alert. They
# are set far above the attachment cap, and `--alert-exceeds-max` turns any skip into a finding.
_MAX_SCAN_BYTES = "1000M"
DEFINITION_SUFFIXES = (".cvd", ".cld", ".cud", ".hdb", ".hsb", ".ndb", ".ldb", ".yara", ".yar")


class Verdict(enum.StrEnum):
    CLEAN = "CLEAN"
    INFECTED = "INFECTED"


@dataclasses.dataclass(frozen=True)
class ScanResult:
    verdict: Verdict
    signature: str | None = None
    engine: str = ""
    # The definitions that gave the verdict (recorded, and compared after a refresh).
    definitions_version: str | None = None


class ScanEngineError(Exception):
    """The engine could not give a verdict. Never a reason to mark a file clean."""


class ScanEngine(Protocol):
    """Anything that can scan one local file."""

    @property
    def definitions_version(self) -> str | None:
        """The version of the definitions that will judge the next scan, if known."""
        ...

    def scan_file(self, path: str) -> ScanResult:
        """Return a verdict for the file at `path`, or raise ScanEngineError."""
        ...


def has_definitions(directory: str) -> bool:
    """True when `directory` holds at least one ClamAV definitions file."""
    folder = Path(directory)
    return folder.is_dir() and any(
        child.suffix in DEFINITION_SUFFIXES and child.stat().st_size > 0
        for child in folder.iterdir()
    )


@dataclasses.dataclass(frozen=True)
class ClamscanEngine:
    """Runs `clamscan` (one process per file, loading `definitions_dir` every time)."""

    binary: str
    definitions_dir: str
    timeout_seconds: float

    @property
    def definitions_version(self) -> str | None:
        return None  # a per-file clamscan reads whatever the directory holds at that moment

    def command(self, path: str) -> list[str]:
        return [
            self.binary,
            "--no-summary",
            "--stdout",
            f"--database={self.definitions_dir}",
            f"--max-filesize={_MAX_SCAN_BYTES}",
            f"--max-scansize={_MAX_SCAN_BYTES}",
            "--alert-exceeds-max=yes",
            "--",
            path,
        ]

    def scan_file(self, path: str) -> ScanResult:
        if not has_definitions(self.definitions_dir):
            raise ScanEngineError("no ClamAV definitions in the definitions directory")
        if not os.path.isfile(path):
            raise ScanEngineError("the file to scan does not exist")
        try:
            completed = subprocess.run(  # noqa: S603 (fixed argv, no shell)
                self.command(path),
                capture_output=True,
                timeout=self.timeout_seconds,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            raise ScanEngineError("the clamscan binary was not found") from None
        except PermissionError:
            raise ScanEngineError("the clamscan binary cannot be executed") from None
        except subprocess.TimeoutExpired:
            raise ScanEngineError(f"clamscan timed out after {self.timeout_seconds}s") from None
        return parse_clamscan_output(path, completed.returncode, completed.stdout)


def parse_clamscan_output(path: str, returncode: int, stdout: bytes) -> ScanResult:
    """Turn clamscan's exit code and `<path>: <result>` line into a verdict (fail closed)."""
    prefix = f"{path}: "
    lines = [
        line[len(prefix) :]
        for line in stdout.decode("utf-8", "replace").splitlines()
        if line.startswith(prefix)
    ]
    if returncode == 0 and lines == ["OK"]:
        return ScanResult(Verdict.CLEAN, engine="clamscan")
    if returncode == 1 and len(lines) == 1 and lines[0].endswith(" FOUND"):
        return ScanResult(Verdict.INFECTED, lines[0].removesuffix(" FOUND"), engine="clamscan")
    raise ScanEngineError(f"clamscan gave no verdict (exit code {returncode})")
