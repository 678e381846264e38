"""A `LocalGateway` that behaves like the deployed API Gateway where Chalice's does not:

- responses API Gateway makes itself (unknown route, authorizer 401/403, authorizer failure) come
  from `chalicelib.core.gateway_responses` with the security headers, as the template configures;
- an authorizer raising 'Unauthorized' becomes a 401 (Chalice local would crash);
- every event carries a request id and the caller's real source IP.
"""

from __future__ import annotations

import json
import uuid
from http.server import HTTPServer
from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    LocalDevServer,
    LocalGateway,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib.api.authorizer import AuthorizerDenied
from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from chalicelib.core.headers import security_headers

_ERROR_TYPE_TO_RESPONSE = {
    "UnauthorizedException": "MISSING_AUTHENTICATION_TOKEN",  # no such route
    "AccessDeniedException": "ACCESS_DENIED",  # authorizer policy denied
    "AuthorizerConfigurationException": "AUTHORIZER_CONFIGURATION_ERROR",
}


def gateway_response(response_type: str, request_id: str) -> dict[str, Any]:
    """A Lambda-proxy-shaped response for one of API Gateway's own response types."""
    spec = GATEWAY_RESPONSES[response_type]
    headers = {
        **security_headers(),
        "Content-Type": "application/json",
        "X-Request-Id": request_id,
    }
    return {
        "statusCode": spec.status,
        "headers": headers,
        "multiValueHeaders": {},
        "body": spec.body(),
    }


class DeskguardLocalGateway(LocalGateway):
    """LocalGateway with API Gateway's error behaviour as Deskguard deploys it."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self.source_ip = "127.0.0.1"
        self._request_id = ""

    def _generate_lambda_event(
        self, method: str, path: str, headers: Any, body: bytes | None
    ) -> Any:
        event = super()._generate_lambda_event(method, path, headers, body)
        event["requestContext"]["requestId"] = self._request_id
        event["requestContext"]["identity"]["sourceIp"] = self.source_ip
        event["requestContext"]["stage"] = "api"
        return event

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        self._request_id = str(uuid.uuid4())
        try:
            return super().handle_request(method, path, headers, body)
        except (AuthorizerDenied, NotAuthorizedError):
            # NotAuthorizedError: no Authorization header at all (API Gateway answers 401 too).
            return gateway_response("UNAUTHORIZED", self._request_id)
        except LocalGatewayException as error:
            error_type = error.headers.get("x-amzn-ErrorType", "")
            return gateway_response(
                _ERROR_TYPE_TO_RESPONSE.get(error_type, "DEFAULT_4XX"), self._request_id
            )


class _Handler(ChaliceRequestHandler):
    def __init__(
        self,
        request: bytes,
        client_address: tuple[str, int],
        server: HTTPServer,
        app_object: Chalice,
        config: Config,
    ) -> None:
        gateway = DeskguardLocalGateway(app_object, config)
        gateway.source_ip = client_address[0]
        self.local_gateway = gateway
        super(ChaliceRequestHandler, self).__init__(request, client_address, server)


def create_server(app_object: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """Chalice's local dev server, using the Deskguard gateway emulation."""
    return LocalDevServer(app_object, config, host, port, handler_cls=_Handler)


def decode_body(raw: Any) -> Any:
    """JSON-decode a response body if possible (helper for clients)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw
