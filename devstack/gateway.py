"""A `LocalGateway` that behaves like the deployed API Gateway where Chalice's does not:

- responses API Gateway makes itself (unknown route, authorizer 401/403, authorizer failure) come
  from `chalicelib.core.gateway_responses` with the security headers, as the template configures;
- an authorizer raising 'Unauthorized' becomes a 401 (Chalice local would crash);
- every event carries a request id and the caller's real source IP;
- a request without an `Authorization` header goes to the REQUEST authorizer
  (`deskguard_request_authorizer`, which also reads the session cookie and checks CSRF), as the
  deployed template does; with the header, Chalice's TOKEN authorizer runs as usual.
"""

from __future__ import annotations

import json
import uuid
from http.server import HTTPServer
from typing import Any

from chalice.app import Chalice, ChaliceAuthorizer
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LocalAuthPair,
    LocalDevServer,
    LocalGateway,
    LocalGatewayAuthorizer,
    LocalGatewayException,
    NotAuthorizedError,
)

from chalicelib.api.authorizer import AuthorizerDenied, handle_request_authorizer
from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from chalicelib.core.headers import security_headers
from chalicelib.core.observability import RequestContext, reset_context, set_context

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


class DeskguardLocalAuthorizer(LocalGatewayAuthorizer):
    """Bearer requests: Chalice's TOKEN authorizer. Others: the REQUEST authorizer (cookie)."""

    def authorize(self, raw_path: str, lambda_event: Any, lambda_context: Any) -> LocalAuthPair:
        route_entry = self._route_for_event(lambda_event)
        if route_entry is None or not isinstance(route_entry.authorizer, ChaliceAuthorizer):
            return super().authorize(raw_path, lambda_event, lambda_context)
        request_context = lambda_event["requestContext"]
        headers = lambda_event.get("headers") or {}
        if "authorization" in headers:
            # API Gateway gives a TOKEN authorizer no request data; locally the security events
            # still get the request id, route and IP, as the REQUEST authorizer would have them.
            token = set_context(
                RequestContext(
                    request_id=request_context.get("requestId"),
                    route=request_context.get("resourcePath"),
                    method=request_context.get("httpMethod"),
                    ip=request_context.get("identity", {}).get("sourceIp"),
                )
            )
            try:
                return super().authorize(raw_path, lambda_event, lambda_context)
            finally:
                reset_context(token)
        method = request_context["httpMethod"]
        arn = self._arn_builder.build_arn(method, raw_path)
        auth_event = {
            "type": "REQUEST",
            "methodArn": arn,
            "resource": request_context.get("resourcePath"),
            "path": raw_path,
            "httpMethod": method,
            "headers": dict(headers),
            "queryStringParameters": lambda_event.get("queryStringParameters"),
            "pathParameters": lambda_event.get("pathParameters"),
            "requestContext": request_context,
        }
        auth_result = handle_request_authorizer(auth_event)
        if not self._check_can_invoke_view_function(arn, auth_result):
            raise ForbiddenError(
                {
                    "x-amzn-RequestId": lambda_context.aws_request_id,
                    "x-amzn-ErrorType": "AccessDeniedException",
                },
                b'{"message": "denied"}',
            )
        return self._update_lambda_event(lambda_event, auth_result), lambda_context


class DeskguardLocalGateway(LocalGateway):
    """LocalGateway with API Gateway's error behaviour as Deskguard deploys it."""

    def __init__(self, app_object: Chalice, config: Config) -> None:
        super().__init__(app_object, config)
        self._authorizer = DeskguardLocalAuthorizer(app_object)
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
