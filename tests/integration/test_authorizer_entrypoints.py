"""The two authorizer Lambda entry points with the events API Gateway really sends."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.authorizer import (
    AuthorizerDenied,
    deskguard_authorizer,
    deskguard_request_authorizer,
)
from chalicelib.core.settings import override
from tests.support.events import read_events

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/api/POST/api/auth/logout"


def _request_event(headers: dict[str, str], method: str = "POST") -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": ARN,
        "resource": "/api/auth/logout",
        "path": "/api/auth/logout",
        "httpMethod": method,
        "headers": headers,
        "requestContext": {
            "requestId": "req-123",
            "resourcePath": "/api/auth/logout",
            "httpMethod": method,
            "identity": {"sourceIp": "198.51.100.7"},
        },
    }


def test_token_authorizer_with_a_bare_token_event(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {org.agent.token}", "methodArn": ARN}
    result = deskguard_authorizer(event, None)
    assert result["principalId"] == org.agent.id
    assert result["context"]["organizationId"] == org.id
    statement = result["policyDocument"]["Statement"][0]
    assert statement["Effect"] == "Allow" and statement["Resource"][0].endswith("/*/*")
    read_events(caplog)
    with pytest.raises(AuthorizerDenied, match="Unauthorized"):
        deskguard_authorizer({**event, "authorizationToken": "Bearer nope"}, None)
    (failure,) = read_events(caplog, "security.authorization_failure")
    assert failure["route"] == "/api/auth/logout" and failure["method"] == "POST"


def test_request_authorizer_bearer_cookie_csrf_and_denial(
    client: Any, make_org: Any, caplog: pytest.LogCaptureFixture
) -> None:
    org = make_org()
    cookie = f"deskguard_session={org.agent.token}"
    with override(allowed_origins=("https://app.example",)):
        bearer = deskguard_request_authorizer(
            _request_event({"Authorization": f"Bearer {org.agent.token}"}), None
        )
        assert bearer["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert bearer["context"]["credential"] == "bearer"
        ok = deskguard_request_authorizer(
            _request_event({"Cookie": cookie, "Origin": "https://app.example"}), None
        )
        assert ok["context"]["credential"] == "cookie" and ok["principalId"] == org.agent.id
        read_events(caplog)
        denied = deskguard_request_authorizer(
            _request_event({"Cookie": cookie, "Origin": "https://evil.example"}), None
        )
        assert denied["policyDocument"]["Statement"][0]["Effect"] == "Deny"
        assert denied["context"] == {}
        (csrf,) = read_events(caplog, "security.authorization_failure")
        assert csrf["reason"] == "csrf_origin" and csrf["ip"] == "198.51.100.7"
        assert csrf["request_id"] == "req-123" and csrf["user_id"] == org.agent.id
        get_ok = deskguard_request_authorizer(_request_event({"Cookie": cookie}, "GET"), None)
        assert get_ok["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        with pytest.raises(AuthorizerDenied):
            deskguard_request_authorizer(_request_event({}), None)
