"""The contract's response shapes: security headers on every response, the bare error body."""

from __future__ import annotations

from typing import Any

from devstack.client import ApiResponse

CONTRACT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def assert_contract_headers(response: ApiResponse) -> None:
    for name, value in CONTRACT_HEADERS.items():
        assert response.header(name) == value, name
    assert "camera=()" in (response.header("Permissions-Policy") or "")
    hsts = response.header("Strict-Transport-Security") or ""
    assert "includeSubDomains" in hsts
    max_age = int(hsts.split("max-age=")[1].split(";")[0])
    assert max_age >= 31536000
    assert response.header("X-Request-Id")


def assert_error(response: ApiResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.body
    body = response.json
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert_contract_headers(response)
    raw = response.body.decode()
    assert "Traceback" not in raw and '"Code"' not in raw and '"Message"' not in raw
    return body
