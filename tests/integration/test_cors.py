"""CORS (`ALLOWED_ORIGINS`): preflights and responses as a browser sees them, through the
gateway emulation. Only exact configured origins get `Access-Control-Allow-*` headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core.settings import override
from tests.support.assertions import assert_contract_headers, assert_error

FRONT_END = "https://app.deskguard.example"
OTHER = "https://other.deskguard.example"


@pytest.fixture(autouse=True)
def origins() -> Iterator[None]:
    with override(allowed_origins=(FRONT_END, OTHER)):
        yield


def _preflight(client: Any, path: str, origin: str, method: str = "PATCH", **headers: str) -> Any:
    return client.request(
        "OPTIONS",
        path,
        headers={"Origin": origin, "Access-Control-Request-Method": method, **headers},
    )


def _cors_headers(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def test_preflight_from_an_allowed_origin_names_that_origin_and_the_path_methods(
    client: Any,
) -> None:
    response = _preflight(
        client,
        "/api/tickets/0123456789abcdef0123456789abcdef",
        FRONT_END,
        **{"Access-Control-Request-Headers": "authorization, content-type, if-match"},
    )
    assert response.status == 204 and response.body == b""
    assert _cors_headers(response) == {
        "Access-Control-Allow-Origin": FRONT_END,
        "Access-Control-Allow-Methods": "GET, PATCH, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match, Idempotency-Key",
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "600",
    }
    assert response.header("Vary") == "Origin"
    assert_contract_headers(response)
    # Each allowed origin is answered with itself, never with another or a wildcard.
    other = _preflight(client, "/api/tickets", OTHER, "POST")
    assert other.status == 204
    assert other.header("Access-Control-Allow-Origin") == OTHER
    assert other.header("Access-Control-Allow-Methods") == "GET, POST, OPTIONS"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "https://app.deskguard.example.evil.example",
        "http://app.deskguard.example",  # another scheme is another origin
        "https://app.deskguard.example:8443",
        "https://APP.deskguard.example",
    ],
)
def test_preflight_from_a_disallowed_origin_is_refused_without_cors_headers(
    client: Any, origin: str
) -> None:
    response = _preflight(client, "/api/tickets", origin, "POST")
    assert_error(response, 403, "FORBIDDEN")
    assert _cors_headers(response) == {}
    assert response.header("Vary") == "Origin"


def test_responses_carry_cors_headers_for_allowed_origins_only(client: Any, make_org: Any) -> None:
    org = make_org()
    allowed = client.get("/api/me", token=org.agent.token, headers={"Origin": FRONT_END})
    assert allowed.status == 200
    assert allowed.header("Access-Control-Allow-Origin") == FRONT_END
    assert allowed.header("Access-Control-Allow-Credentials") == "true"
    exposed = {h.strip() for h in allowed.header("Access-Control-Expose-Headers").split(",")}
    assert {"ETag", "Location", "Retry-After", "RateLimit-Remaining", "X-Request-Id"} <= exposed
    assert allowed.header("Vary") == "Origin"
    # Errors too: a browser front end can read the contract's error body.
    missing = client.get(
        "/api/tickets/" + "0" * 32, token=org.agent.token, headers={"Origin": OTHER}
    )
    assert_error(missing, 404, "NOT_FOUND")
    assert missing.header("Access-Control-Allow-Origin") == OTHER

    foreign = client.get(
        "/api/me", token=org.agent.token, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status == 200  # CORS is the browser's to enforce; the server just does not allow
    assert _cors_headers(foreign) == {}
    assert foreign.header("Vary") == "Origin"
    assert _cors_headers(client.get("/api/me", token=org.agent.token)) == {}


def test_options_without_a_preflight_lists_the_methods_and_needs_no_credential(
    client: Any,
) -> None:
    response = client.request("OPTIONS", "/api/tickets")
    assert response.status == 204
    assert response.header("Allow") == "GET, POST, OPTIONS"
    assert _cors_headers(response) == {}
    assert_contract_headers(response)


def test_no_allowed_origins_means_no_cors(client: Any) -> None:
    with override(allowed_origins=()):
        response = _preflight(client, "/api/tickets", FRONT_END, "POST")
        assert_error(response, 403, "FORBIDDEN")
        assert _cors_headers(response) == {}
        assert client.get("/api/health", headers={"Origin": FRONT_END}).header("Vary") is None


def test_a_preflight_never_runs_the_authorizer_or_a_handler(client: Any, make_org: Any) -> None:
    org = make_org()
    before = client.get("/api/tickets", token=org.agent.token).json["items"]
    response = _preflight(client, "/api/tickets", FRONT_END, "POST")
    assert response.status == 204
    response = client.request(
        "OPTIONS", "/api/tickets", json={"subject": "x", "body": "y"}, token="not-a-token"
    )
    assert response.status == 204
    assert client.get("/api/tickets", token=org.agent.token).json["items"] == before
