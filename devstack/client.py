"""An in-process HTTP client for the app, through the same gateway emulation as `make run`.

Used by the integration and security tests and the benchmarks instead of `chalice.test.Client`,
whose gateway would return Chalice's default error bodies for unknown routes and denials.
"""

from __future__ import annotations

import base64
import dataclasses
import json as jsonlib
from typing import Any

from chalice.app import Chalice
from chalice.config import Config

from devstack.gateway import DeskguardLocalGateway, decode_body


@dataclasses.dataclass
class ApiResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return decode_body(self.body)

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


class ApiClient:
    """Calls the app like API Gateway would; `token=` adds a bearer credential."""

    def __init__(self, app: Chalice) -> None:
        config = Config.create(
            chalice_stage="test", app_name="deskguard", lambda_timeout=60, lambda_memory_size=512
        )
        self.gateway = DeskguardLocalGateway(app, config)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = None,
        source_ip: str = "127.0.0.1",
    ) -> ApiResponse:
        sent_headers = {"content-type": "application/json"}
        if token is not None:
            sent_headers["authorization"] = f"Bearer {token}"
        sent_headers.update({k.lower(): v for k, v in (headers or {}).items()})
        raw: bytes | None
        if json is not None:
            raw = jsonlib.dumps(json).encode()
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = body
        if raw is not None:
            sent_headers.setdefault("content-length", str(len(raw)))
        self.gateway.source_ip = source_ip
        response = self.gateway.handle_request(
            method=method.upper(), path=path, headers=sent_headers, body=raw
        )
        headers_out = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        for key, values in (response.get("multiValueHeaders") or {}).items():
            headers_out[str(key)] = ", ".join(str(v) for v in values)
        payload = response.get("body") or b""
        if response.get("isBase64Encoded"):
            payload = base64.b64decode(payload)
        elif isinstance(payload, str):
            payload = payload.encode()
        return ApiResponse(status=int(response["statusCode"]), headers=headers_out, body=payload)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
