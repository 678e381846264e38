"""The test client, recording every secret it sends or receives for the suite-wide log audit."""

from __future__ import annotations

from typing import Any

from devstack.client import ApiClient, ApiResponse
from tests.support.logcheck import register_sensitive

# JSON keys whose values must never reach a log line (request or response, any depth).
SENSITIVE_KEYS = frozenset(
    {
        "password",
        "currentPassword",
        "newPassword",
        "token",
        "secret",
        "email",
        "body",
        "bodyMarkdown",
    }
)


def _walk(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in SENSITIVE_KEYS and isinstance(item, str):
                register_sensitive(item)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


class RecordingApiClient(ApiClient):
    def request(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        _walk(kwargs.get("json"))
        register_sensitive(kwargs.get("token"))
        for name, value in (kwargs.get("headers") or {}).items():
            if name.lower() in {"authorization", "cookie"}:
                register_sensitive(value.split(" ", 1)[-1])
        response = super().request(method, path, **kwargs)
        if isinstance(response.json, dict | list):
            _walk(response.json)
        cookies = response.header("Set-Cookie")
        # Several cookies arrive joined by ", " (their attributes use Max-Age, never a comma).
        for cookie in (cookies or "").split(", "):
            if cookie:
                register_sensitive(cookie.split(";", 1)[0].split("=", 1)[-1])
        return response
