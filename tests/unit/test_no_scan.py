"""No DynamoDB Scan in the service code: every read is a key lookup or an index Query."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCAN_CALL = re.compile(r"\.scan\s*\(|\bscan\s*\(|['\"]Scan['\"]")


def offending_lines(source: str) -> list[str]:
    return [line.strip() for line in source.splitlines() if SCAN_CALL.search(line)]


def test_pattern_detects_scans() -> None:
    assert offending_lines("items = TicketModel.scan(filter_condition=x)")
    assert offending_lines("client.scan (TableName=t)")
    assert offending_lines('conn.dispatch("Scan", kwargs)')
    assert not offending_lines("items = TicketModel.query(pk)  # scan_index_forward=False")


def test_no_scan_in_request_paths() -> None:
    files = [*sorted((ROOT / "chalicelib").rglob("*.py")), ROOT / "app.py"]
    found = {
        str(path.relative_to(ROOT)): lines
        for path in files
        if (lines := offending_lines(path.read_text(encoding="utf-8")))
    }
    assert found == {}
