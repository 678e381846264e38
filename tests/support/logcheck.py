"""Suite-wide log audit (a pytest plugin, wired in tests/conftest.py).

For the whole run it collects every line the service logger writes (formatted by the same
Powertools JSON formatter as in Lambda) plus everything pytest captured from each test (stdout,
stderr, logging: EMF blobs, prints, other loggers). At the end it checks:
- every service log line is a JSON object;
- every security event has the required context fields (`REQUIRED_FIELDS`);
- no secret appears anywhere: no password, session/API token, cookie value, raw e-mail or
  Markdown body that the suite sent or received (recorded by the test client), no JWT-shaped
  string and no e-mail-shaped string.
Findings fail the run (exit status 1) and are listed in the terminal summary.
"""

from __future__ import annotations

import ast
import functools
import json
import logging
import re
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
MIN_SECRET_LENGTH = 8
SERVICE_LOGGER = "deskguard"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.captured: list[tuple[str, str]] = []  # (test id, captured text)
        self.sensitive: set[str] = set()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception as error:
            line = f"<unformattable log record: {error!r}>"
        with self._lock:
            self.lines.append(line)


COLLECTOR = _Collector()


def register_sensitive(value: Any) -> None:
    """Remember a value that must never appear in logs (shorter ones are too ambiguous).

    A string literal of the service's own code is never a secret: Hypothesis draws text from
    the constants of the code under test (`response_status`, a log field's name), and the
    service writes those itself."""
    if (
        isinstance(value, str)
        and len(value) >= MIN_SECRET_LENGTH
        and value not in _source_constants()
    ):
        COLLECTOR.sensitive.add(value)


@functools.cache
def _source_constants() -> frozenset[str]:
    """Every string literal in the service's modules (`chalicelib/`, `app.py`)."""
    root = Path(__file__).resolve().parents[2]
    found: set[str] = set()
    for path in [root / "app.py", *sorted((root / "chalicelib").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return frozenset(found)


def lines_since(mark: int) -> list[str]:
    """Service log lines written since `mark` (= len(COLLECTOR.lines) earlier)."""
    return COLLECTOR.lines[mark:]


def events_since(mark: int, category: str | None = None) -> list[dict[str, Any]]:
    """Security events logged since `mark`, optionally of one category."""
    events = []
    for line in lines_since(mark):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(record, dict)
            and str(record.get("category", "")).startswith("security.")
            and (category is None or record["category"] == category)
        ):
            events.append(record)
    return events


def check_service_lines(lines: Iterable[str]) -> list[str]:
    """Structural findings in the service's JSON log lines."""
    from chalicelib.security_events.events import CATEGORIES, REQUIRED_FIELDS

    findings = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            findings.append(f"not JSON: {line[:120]}")
            continue
        if not isinstance(record, dict):
            findings.append(f"not a JSON object: {line[:120]}")
            continue
        category = record.get("category")
        if isinstance(category, str) and category.startswith("security."):
            if category not in CATEGORIES:
                findings.append(f"unknown category {category}")
            missing = [name for name in REQUIRED_FIELDS if name not in record]
            if missing:
                findings.append(f"{category} event lacks {missing}: {line[:160]}")
    return findings


def check_secrets(texts: Iterable[tuple[str, str]], sensitive: set[str]) -> list[str]:
    """Secret-leak findings in (source, text) pairs."""
    findings = []
    for source, text in texts:
        for value in sensitive:
            if value in text:
                findings.append(f"{source}: a recorded secret/PII value appears ({value[:4]}...)")
        if JWT.search(text):
            findings.append(f"{source}: a JWT-shaped string appears")
        match = EMAIL.search(text)
        if match:
            findings.append(f"{source}: an e-mail address appears ({match.group()[:3]}...)")
    return findings


def findings() -> list[str]:
    texts = [("log", line) for line in COLLECTOR.lines] + COLLECTOR.captured
    return check_service_lines(COLLECTOR.lines) + check_secrets(texts, COLLECTOR.sensitive)


# --- pytest hooks (imported into tests/conftest.py) -------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    from chalicelib.core.observability import logger

    handler = logger.registered_handler
    COLLECTOR.setFormatter(handler.formatter)
    logging.getLogger(SERVICE_LOGGER).addHandler(COLLECTOR)
    config.stash[_FINDINGS] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, text in report.sections:
        if text:
            COLLECTOR.captured.append((f"{report.nodeid} [{name}]", text))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    found = findings()
    session.config.stash[_FINDINGS] = found
    if found and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    found = config.stash.get(_FINDINGS, [])
    lines = len(COLLECTOR.lines)
    events = len(events_since(0))
    if found:
        terminalreporter.section("log audit FAILED", red=True)
        for finding in sorted(set(found))[:50]:
            terminalreporter.line(finding)
    else:
        terminalreporter.line(
            f"log audit: {lines} log lines, {events} security events, "
            f"{len(COLLECTOR.sensitive)} recorded secrets: clean"
        )


_FINDINGS = pytest.StashKey[list[str]]()
