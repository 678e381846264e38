"""API Gateway's own responses, in the contract's error shape.

One table read by two consumers: the deploy template (`infra/`) writes these as Gateway Responses,
and the local gateway (`devstack.gateway`) reproduces them for `make run` and the tests, so a client
never sees Chalice's or API Gateway's default bodies.
"""

from __future__ import annotations

import dataclasses
import json


@dataclasses.dataclass(frozen=True)
class GatewayResponse:
    status: int
    code: str
    message: str

    def body(self) -> str:
        """The JSON body, as API Gateway will send it."""
        return json.dumps({"error": {"code": self.code, "message": self.message}})


# Keys are API Gateway response types.
GATEWAY_RESPONSES: dict[str, GatewayResponse] = {
    "DEFAULT_4XX": GatewayResponse(400, "VALIDATION_ERROR", "The request could not be handled."),
    "DEFAULT_5XX": GatewayResponse(500, "INTERNAL", "An internal error occurred."),
    "UNAUTHORIZED": GatewayResponse(401, "UNAUTHENTICATED", "Authentication is required."),
    "ACCESS_DENIED": GatewayResponse(403, "FORBIDDEN", "You are not allowed to do this."),
    "MISSING_AUTHENTICATION_TOKEN": GatewayResponse(404, "NOT_FOUND", "Not found."),
    "RESOURCE_NOT_FOUND": GatewayResponse(404, "NOT_FOUND", "Not found."),
    "REQUEST_TOO_LARGE": GatewayResponse(413, "PAYLOAD_TOO_LARGE", "The request is too large."),
    "THROTTLED": GatewayResponse(429, "RATE_LIMITED", "Too many requests; retry later."),
    "QUOTA_EXCEEDED": GatewayResponse(429, "RATE_LIMITED", "Too many requests; retry later."),
    "UNSUPPORTED_MEDIA_TYPE": GatewayResponse(
        415, "UNSUPPORTED_MEDIA_TYPE", "The request body must be JSON (application/json)."
    ),
    "AUTHORIZER_FAILURE": GatewayResponse(500, "INTERNAL", "An internal error occurred."),
    "AUTHORIZER_CONFIGURATION_ERROR": GatewayResponse(
        500, "INTERNAL", "An internal error occurred."
    ),
    "INVALID_API_KEY": GatewayResponse(403, "FORBIDDEN", "You are not allowed to do this."),
    "BAD_REQUEST_BODY": GatewayResponse(400, "VALIDATION_ERROR", "The request is not valid."),
    "BAD_REQUEST_PARAMETERS": GatewayResponse(400, "VALIDATION_ERROR", "The request is not valid."),
}
