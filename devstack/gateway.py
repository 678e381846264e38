"""A `LocalGateway` that behaves like the deployed API Gateway where Chalice's does not:

- responses API Gateway makes itself (unknown route, authorizer 401/403, authorizer failure) come
  from `chalicelib.core.gateway_responses` with the security headers, as the template configures;
- an authorizer raising 'Unauthorized' becomes a 401 (Chalice local would crash);
- every event carries a request id and the caller's real source IP;
- a request without an `Authorization` header goes to the REQUEST authorizer
  (`deskguard_request_authorizer`, which also reads the session cookie and checks CSRF), as the
  deployed template does; with the header, Chalice's TOKEN authorizer runs as usual;
- a method the deployed API defines on no resource (OPTIONS where the app has no OPTIONS route,
  TRACE, CONNECT, any unknown method) never reaches the function: API Gateway answers it with
  its MISSING_AUTHENTICATION_TOKEN response (404 `NOT_FOUND` in the contract shape), and so does
  this gateway, instead of Chalice's bare 200 for OPTIONS or http.server's HTML 501.

`create_server` is the HTTP front of `make run`: one thread per connection, a listen backlog
deep enough for a load test's burst of connections, the app's `current_request` kept per thread
(Chalice keeps it on the app object), and every error http.server makes itself (a malformed
request line, an oversized header) in the contract's error shape with the security headers.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import uuid
from http.server import HTTPServer, ThreadingHTTPServer
from typing import Any

from chalice.app import Chalice, ChaliceAuthorizer
from chalice.config import Config
from chalice.local import (
    ChaliceRequestHandler,
    ForbiddenError,
    LocalAuthPair,
    LocalChalice,
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

# The methods a deployed Deskguard API defines (Chalice routes; no CORS, so no OPTIONS methods).
ROUTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
# Listen backlog of the local HTTP front (http.server's default of 5 resets a burst of clients).
LISTEN_BACKLOG = 1024

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

    def _routes_method(self, method: str, path: str) -> bool:
        """Whether API Gateway would hand `method` on `path` to the function at all."""
        if method in ROUTED_METHODS:
            return True
        if method != "OPTIONS":
            return False
        try:
            route = self.event_converter.create_lambda_event(method, path, {})
        except ValueError:
            return True  # unknown path: the usual 404 below
        routes = self._app_object.routes.get(route["requestContext"]["resourcePath"], {})
        return "OPTIONS" in routes

    def handle_request(self, method: str, path: str, headers: Any, body: bytes | None) -> Any:
        self._request_id = str(uuid.uuid4())
        if not self._routes_method(method, path):
            return gateway_response("MISSING_AUTHENTICATION_TOKEN", self._request_id)
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

    def __getattr__(self, name: str) -> Any:
        # http.server looks up `do_<METHOD>` and answers an HTML 501 when it is missing: hand
        # every method (TRACE, PROPFIND, ...) to the gateway, which answers as API Gateway does.
        if name.startswith("do_"):
            return self._generic_handle
        raise AttributeError(name)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, header too long) in the contract shape."""
        self.close_connection = True
        error = {
            "code": "INTERNAL" if code >= 500 else "VALIDATION_ERROR",
            "message": "An internal error occurred."
            if code >= 500
            else "The request could not be handled.",
        }
        body = json.dumps({"error": error}).encode()
        # A request line that did not parse leaves HTTP/0.9, for which http.server would send
        # the body without a status line or headers; answer in HTTP/1.1.
        self.request_version = self.protocol_version
        self.send_response(code)
        for name, value in {
            **security_headers(),
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "X-Request-Id": str(uuid.uuid4()),
            "Connection": "close",
        }.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # One access-log line per request on stderr, as http.server does, unless ACCESS_LOG=0.
        if not getattr(self.server, "quiet", False):
            super().log_message(format, *args)


class LocalHttpServer(ThreadingHTTPServer):
    """One daemon thread per connection, a deep listen backlog, no waiting for open connections
    at shutdown (keep-alive clients of a load test would hold it up)."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    quiet = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or a connection ended by close_connections at stop) is not an
        # error of the server; anything else keeps socketserver's report.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> int:
        """End every open (keep-alive) connection: after `shutdown()` no request is served.
        A request being handled finishes; its answer may not reach the client."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return len(connections)


def _per_thread_request(app_object: Chalice) -> None:
    """Keep `app.current_request` per thread, as `chalice local` does: Chalice stores it on the
    app object, so two concurrent requests would otherwise read each other's request."""
    if isinstance(app_object, LocalChalice):
        return
    app_object.__class__ = type(
        f"ThreadLocal{type(app_object).__name__}", (LocalChalice, type(app_object)), {}
    )


def create_server(
    app_object: Chalice, config: Config, host: str, port: int, *, quiet: bool = False
) -> LocalDevServer:
    """The local API's HTTP front, using the Deskguard gateway emulation."""
    _per_thread_request(app_object)
    server = LocalDevServer(
        app_object, config, host, port, handler_cls=_Handler, server_cls=LocalHttpServer
    )
    server.server.quiet = quiet
    return server


def decode_body(raw: Any) -> Any:
    """JSON-decode a response body if possible (helper for clients)."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw
