"""A WSGI application around the Deskguard gateway emulation, for WSGI-speaking test tools.

Each WSGI call becomes one `DeskguardLocalGateway.handle_request` (the same path as `make run` and
`devstack.client.ApiClient`: authorizer, Gateway Responses, the app's middleware), so a tool such
as schemathesis drives the app in-process exactly as a client over HTTP would see it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from chalice.app import Chalice
from chalice.config import Config

from devstack.gateway import DeskguardLocalGateway

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class GatewayWsgiApp:
    """`environ -> handle_request -> start_response`, one fresh request id per call."""

    def __init__(self, app: Chalice, source_ip: str = "127.0.0.1") -> None:
        config = Config.create(
            chalice_stage="test", app_name="deskguard", lambda_timeout=60, lambda_memory_size=512
        )
        self.gateway = DeskguardLocalGateway(app, config)
        self.gateway.source_ip = source_ip

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ["REQUEST_METHOD"]).upper()
        # Route on the path as sent (still percent-encoded), as API Gateway does: a decoded ';',
        # '?', '#' or newline inside a path parameter must not cut the path short (Chalice's local
        # router parses the path as a URL, so `/tokens/%3Bx` would become `/tokens/` -> 405).
        raw_uri = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        path = raw_uri.split("?", 1)[0] or quote(str(environ.get("PATH_INFO") or "/"))
        query = str(environ.get("QUERY_STRING") or "")
        if query:
            path = f"{path}?{query}"
        headers = _request_headers(environ)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body: bytes | None = environ["wsgi.input"].read(length) if length > 0 else None
        response = self.gateway.handle_request(method, path, headers, body)
        status = int(response["statusCode"])
        out: list[tuple[str, str]] = [
            (str(k), str(v)) for k, v in (response.get("headers") or {}).items()
        ]
        for key, values in (response.get("multiValueHeaders") or {}).items():
            out.extend((str(key), str(value)) for value in values)
        payload: Any = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{status} {reason}", out)
        return [bytes(payload)]


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The request headers, lower-cased, as API Gateway hands them to the authorizer and app."""
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers[key[5:].replace("_", "-").lower()] = str(value)
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    return headers
