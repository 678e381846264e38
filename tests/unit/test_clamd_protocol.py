"""clamd's INSTREAM answers -> verdicts (fail closed), and the version marker's signature."""

from __future__ import annotations

import hashlib

import pytest

from chalicelib.attachments.scanning.clamd import (
    config_text,
    marker_line,
    marker_signature,
    parse_answer,
    probe_content,
)
from chalicelib.attachments.scanning.engine import ScanEngineError, Verdict


def test_clear_answers() -> None:
    assert parse_answer(b"stream: OK\x00").verdict is Verdict.CLEAN
    found = parse_answer(b"stream: Win.Test.EICAR_HDB-1 FOUND\x00")
    assert (found.verdict, found.signature) == (Verdict.INFECTED, "Win.Test.EICAR_HDB-1")
    # Test databases are "unofficial": the suffix is dropped from the recorded signature.
    assert parse_answer(b"stream: Deskguard.Test.UNOFFICIAL FOUND\x00").signature == (
        "Deskguard.Test"
    )
    # A skipped limit is a finding (AlertExceedsMax), never a pass.
    limits = parse_answer(b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\x00")
    assert limits.verdict is Verdict.INFECTED


@pytest.mark.parametrize(
    "answer",
    [
        b"",  # connection closed without an answer
        b"stream: \x00",
        b"INSTREAM size limit exceeded. ERROR\x00",
        b"stream: Can't allocate memory ERROR\x00",
        b"stream: OK OK\x00",
        b"stream: OKAY\x00",
        b"other: OK\x00",
        b"stream: FOUND\x00",
        b"stream: x ERROR FOUND\x00",
        b"UNKNOWN COMMAND\x00",
        b"\xff\xfe\x00",
    ],
)
def test_anything_else_is_an_error(answer: bytes) -> None:
    with pytest.raises(ScanEngineError):
        parse_answer(answer)


def test_marker_is_a_valid_hash_signature_of_the_probe() -> None:
    version = "20261202T031500Z-abc/def"
    digest, size, name = marker_line(version).strip().split(":")
    probe = probe_content(version)
    assert digest == hashlib.md5(probe).hexdigest()  # noqa: S324
    assert int(size) == len(probe)
    assert name == marker_signature(version) == "Deskguard.Loaded.20261202T031500Z-abc_def"
    assert probe_content("other") != probe


def test_config_limits_sit_above_the_cap_and_alert() -> None:
    from pathlib import Path

    text = config_text(Path("/tmp/w"), max_stream_bytes=10 * 1024 * 1024, scan_timeout_seconds=30)
    lines = dict(line.split(" ", 1) for line in text.splitlines() if line)
    assert lines["LocalSocket"] == "/tmp/w/clamd.sock"
    assert lines["StreamMaxLength"] == "11M"
    assert lines["AlertExceedsMax"] == "yes"
    assert lines["MaxScanTime"] == "30000"
    assert "TCPSocket" not in lines
