"""The `curl -I` check of the seeds' checklist, automated: every kind of response from the
`make run` stack over real HTTP carries the security headers (HSTS included)."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import requests

from tests.support.assertions import CONTRACT_HEADERS

CASES = [
    ("HEAD", "/api/health", None),  # curl -I
    ("GET", "/api/health", None),
    ("GET", "/api/no-such-route", None),  # gateway's own 404
    ("GET", "/api/me", None),  # no credential: authorizer 401
    ("GET", "/api/me", "Bearer not-a-token"),  # bad credential: 401
    ("DELETE", "/api/health", None),  # 405 made by Chalice, reshaped
]


def _check(headers: Any, where: str) -> None:
    for name, value in CONTRACT_HEADERS.items():
        assert headers.get(name) == value, (where, name, headers.get(name))
    assert "camera=()" in headers.get("Permissions-Policy", ""), where
    hsts = headers.get("Strict-Transport-Security", "")
    assert "includeSubDomains" in hsts, where
    assert int(hsts.split("max-age=")[1].split(";")[0]) >= 31536000, where
    assert headers.get("X-Request-Id"), where


@pytest.mark.parametrize(("method", "path", "authorization"), CASES)
def test_every_response_carries_the_security_headers(
    local_stack: dict[str, Any], method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.request(
        method, f"{local_stack['url']}{path}", headers=headers, timeout=10, allow_redirects=False
    )
    assert response.status_code in {200, 401, 404, 405}
    _check(response.headers, f"{method} {path} -> {response.status_code}")


def test_curl_dash_i(local_stack: dict[str, Any]) -> None:
    """Literally `curl -sI` (curl is in the Makefile's APT_PACKAGES): what an operator runs."""
    out = subprocess.run(  # noqa: S603
        ["curl", "-sI", "--max-time", "10", f"{local_stack['url']}/api/health"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line.split(":", 1) for line in out.splitlines()[1:] if ":" in line]
    headers = requests.structures.CaseInsensitiveDict(
        {name.strip(): value.strip() for name, value in lines}
    )
    _check(headers, "curl -I /api/health")
