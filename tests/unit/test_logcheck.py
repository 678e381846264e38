"""The suite-wide log audit finds what it must, and fails a run that leaks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.logcheck import check_secrets, check_service_lines

ROOT = Path(__file__).resolve().parents[2]
GOOD_EVENT = {
    "category": "security.failed_login",
    "request_id": "r",
    "user_id": None,
    "organization_id": None,
    "route": "/api/auth/login",
    "route_class": "auth",
    "method": "POST",
    "ip": "1.2.3.4",
    "user_agent": None,
}


def test_structural_findings() -> None:
    assert check_service_lines([json.dumps(GOOD_EVENT), json.dumps({"message": "x"})]) == []
    missing = {k: v for k, v in GOOD_EVENT.items() if k != "ip"}
    (finding,) = check_service_lines([json.dumps(missing)])
    assert "lacks ['ip']" in finding
    assert check_service_lines(["plain text"]) == ["not JSON: plain text"]
    assert "unknown category" in check_service_lines([json.dumps({"category": "security.x"})])[0]


def test_secret_findings() -> None:
    secret = "pw-0123456789abcdef"
    jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJlLXZhbHVl"
    texts = [
        ("a", f'{{"note": "{secret}"}}'),
        ("b", f"Authorization: Bearer {jwt}"),
        ("c", "mail bob.smith@corp.example.com now"),
        ("d", '{"email_hash": "3dcec8abd2f8d1e7478ae9e76defbf6a"}'),
    ]
    findings = check_secrets(texts, {secret})
    assert [f.split(":")[0] for f in findings] == ["a", "b", "c"]


def test_a_leaking_run_fails() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/logcheck_selftest_case.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "1 passed" in result.stdout, result.stdout[-2000:]
    assert result.returncode == 1, result.stdout[-2000:]
    assert "log audit FAILED" in result.stdout
    assert "an e-mail address appears" in result.stdout
