"""The HTTP boundary: error shape and security headers on every kind of response."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.assertions import assert_contract_headers, assert_error


def test_health_is_public_and_carries_headers(client: Any) -> None:
    response = client.get("/api/health")
    assert response.status == 200
    assert response.json == {"status": "ok", "stage": "test"}
    assert_contract_headers(response)


def test_unknown_route_is_contract_404(client: Any) -> None:
    assert_error(client.get("/api/no-such-thing"), 404, "NOT_FOUND")
    assert_error(client.get("/api/no-such-thing", token="x"), 404, "NOT_FOUND")


def test_wrong_method_is_contract_405(client: Any) -> None:
    response = client.request("DELETE", "/api/health")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.header("Allow") == "GET, OPTIONS"  # OPTIONS: the CORS preflight view


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"a string"', "\xff"])
def test_malformed_json_is_400(client: Any, raw: str) -> None:
    response = client.post("/api/auth/login", body=raw)
    assert_error(response, 400, "VALIDATION_ERROR")


def test_non_json_content_type_is_415(client: Any) -> None:
    response = client.post(
        "/api/auth/login", body="email=a", headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_oversized_body_is_413_before_parsing(client: Any) -> None:
    big = json.dumps({"email": "a@b.c", "password": "x" * (64 * 1024)})
    assert_error(client.post("/api/auth/login", body=big), 413, "PAYLOAD_TOO_LARGE")


def test_body_at_limit_is_not_413(client: Any) -> None:
    payload = json.dumps({"organization": "acme", "email": "a@b.c", "password": "x"})
    padded = payload + " " * (64 * 1024 - len(payload))
    assert client.post("/api/auth/login", body=padded).status == 401


def test_validation_error_has_field_details(client: Any) -> None:
    body = assert_error(
        client.post("/api/auth/login", json={"email": "a@b.c", "role": "ADMIN"}),
        400,
        "VALIDATION_ERROR",
    )
    fields = {detail["field"] for detail in body["error"]["details"]}
    assert {"password", "role"} <= fields


def test_internal_exception_is_generic_500_without_traceback(
    client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib.core import settings as settings_module

    def explode() -> None:
        raise RuntimeError("secret-internal-detail")

    monkeypatch.setattr(settings_module, "get_settings", explode)
    import chalicelib.api.health as health_module

    monkeypatch.setattr(health_module, "get_settings", explode)
    response = client.get("/api/health")
    body = assert_error(response, 500, "INTERNAL")
    assert "secret-internal-detail" not in json.dumps(body)
    assert "Traceback" not in response.body.decode()


def test_missing_credentials_is_401_in_contract_shape(client: Any) -> None:
    assert_error(client.get("/api/me"), 401, "UNAUTHENTICATED")
    assert_error(client.get("/api/me", token="garbage"), 401, "UNAUTHENTICATED")
