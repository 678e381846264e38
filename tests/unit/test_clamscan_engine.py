"""The per-file clamscan engine (the baseline bench/scan.py measures the resident clamd against)
against a real ClamAV with a signature database the test builds.

Fail closed: every way the engine can fail raises ScanEngineError, never returns CLEAN.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from chalicelib.attachments.scanning.engine import (
    ClamscanEngine,
    ScanEngineError,
    Verdict,
    parse_clamscan_output,
)
from tests.support.av import EICAR, SIGNATURE_NAME, build_signature_db, pdf_bytes

pytestmark = pytest.mark.skipif(
    shutil.which("clamscan") is None, reason="clamscan not installed (make test installs it)"
)


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_signature_db(tmp_path_factory.mktemp("clamav-db"))


def _file(tmp_path: Path, content: bytes) -> str:
    path = tmp_path / "object"
    path.write_bytes(content)
    return str(path)


def test_eicar_is_infected_and_pdf_clean(definitions: Path, tmp_path: Path) -> None:
    engine = ClamscanEngine("clamscan", str(definitions), 60)
    infected = engine.scan_file(_file(tmp_path, EICAR))
    assert infected.verdict is Verdict.INFECTED
    assert infected.signature is not None and infected.signature.startswith(SIGNATURE_NAME)
    assert engine.scan_file(_file(tmp_path, pdf_bytes())).verdict is Verdict.CLEAN


def test_missing_binary_is_an_error(definitions: Path, tmp_path: Path) -> None:
    engine = ClamscanEngine(str(tmp_path / "no-such-clamscan"), str(definitions), 60)
    with pytest.raises(ScanEngineError, match="not found"):
        engine.scan_file(_file(tmp_path, pdf_bytes()))


def test_timeout_is_an_error(definitions: Path, tmp_path: Path) -> None:
    engine = ClamscanEngine("clamscan", str(definitions), 0.001)
    with pytest.raises(ScanEngineError, match="timed out"):
        engine.scan_file(_file(tmp_path, pdf_bytes()))


def test_missing_or_empty_definitions_is_an_error(tmp_path: Path) -> None:
    target = _file(tmp_path, pdf_bytes())
    for directory in (tmp_path / "absent", tmp_path):
        with pytest.raises(ScanEngineError, match="definitions"):
            ClamscanEngine("clamscan", str(directory), 60).scan_file(target)


def test_clamscan_own_error_exit_is_an_error(tmp_path: Path) -> None:
    # A definitions file clamscan cannot load: exit code 2, which must not read as clean.
    bad = tmp_path / "defs"
    bad.mkdir()
    (bad / "broken.hdb").write_text("not a signature line\n")
    with pytest.raises(ScanEngineError, match="exit code 2"):
        ClamscanEngine("clamscan", str(bad), 60).scan_file(_file(tmp_path, pdf_bytes()))


@pytest.mark.parametrize(
    ("code", "stdout"),
    [
        (0, b""),  # exit 0 but no line for the file
        (0, b"/other/file: OK\n"),
        (0, b"/f: Heuristics.Limits.Exceeded FOUND\n"),
        (1, b"/f: OK\n"),
        (2, b"/f: OK\n"),
        (-9, b""),  # killed
        (0, b"/f: OK\n/f: OK\n"),
    ],
)
def test_output_without_a_clear_verdict_is_an_error(code: int, stdout: bytes) -> None:
    with pytest.raises(ScanEngineError):
        parse_clamscan_output("/f", code, stdout)


def test_output_with_a_clear_verdict() -> None:
    assert parse_clamscan_output("/f", 0, b"/f: OK\n").verdict is Verdict.CLEAN
    result = parse_clamscan_output("/f", 1, b"/f: Win.Test.EICAR_HDB-1 FOUND\n")
    assert (result.verdict, result.signature) == (Verdict.INFECTED, "Win.Test.EICAR_HDB-1")
