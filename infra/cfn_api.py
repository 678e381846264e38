"""The API Gateway parts of the merge template that Chalice does not write: the Gateway
Responses (`chalicelib.core.gateway_responses` bodies with `chalicelib.core.headers`), the
REQUEST (cookie) authorizer that replaces Chalice's TOKEN one, and the `RestAPI` overrides
(stage throttling, metrics, X-Ray tracing)."""

from __future__ import annotations

import dataclasses
from typing import Any

from chalice.app import Chalice

from chalicelib.core import settings as settings_module
from chalicelib.core.gateway_responses import GATEWAY_RESPONSES
from chalicelib.core.headers import security_headers
from infra import stages
from infra.cfn_common import invoke_permission, sub
from infra.resources import function_logical_id

# API Gateway stage throttling (per account/stage, in front of the app's own rate limiting).
THROTTLE_RATE = 50
THROTTLE_BURST = 100


@dataclasses.dataclass(frozen=True)
class RequestAuthorizer:
    """A REQUEST-type Lambda authorizer that the template wires in place of a Chalice one.

    Chalice's built-in authorizer is TOKEN-type on one header; the session cookie needs a
    REQUEST authorizer that sees the whole request (Authorization and Cookie headers). Chalice
    cannot declare one, so `chalicelib/api/authorizer.py` defines it as a plain Lambda function
    (`@app.lambda_function(name=...)`) that takes API Gateway's REQUEST event and returns an IAM
    policy document, and this entry makes API Gateway use it for every route that Chalice
    attached to `replaces`. Nothing happens while the app does not define `function_name`.
    """

    function_name: str
    replaces: str
    identity_sources: tuple[str, ...]
    ttl_seconds: int


# The cookie authorizer. With caching off (ttl 0) API Gateway calls the
# authorizer even when a listed identity source is absent, so one authorizer serves both bearer
# and cookie clients; with caching on, every source would be required on every request.
REQUEST_AUTHORIZERS: tuple[RequestAuthorizer, ...] = (
    RequestAuthorizer(
        function_name="deskguard_request_authorizer",
        replaces="deskguard_authorizer",
        identity_sources=("method.request.header.Authorization", "method.request.header.Cookie"),
        ttl_seconds=0,
    ),
)


def gateway_responses() -> dict[str, Any]:
    """`x-amazon-apigateway-gateway-responses`: the contract's body and headers on every type."""
    with settings_module.override(hsts_enabled=True):
        headers = security_headers()
    headers["Content-Type"] = "application/json"
    parameters = {f"gatewayresponse.header.{name}": f"'{value}'" for name, value in headers.items()}
    # API Gateway maps context variables into gateway-response headers (not into static values).
    parameters["gatewayresponse.header.X-Request-Id"] = "context.requestId"
    return {
        response_type: {
            "statusCode": str(spec.status),
            "responseParameters": dict(parameters),
            "responseTemplates": {"application/json": spec.body()},
        }
        for response_type, spec in GATEWAY_RESPONSES.items()
    }


def request_authorizer_overrides(
    app: Chalice,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Security-definition overrides and extra resources for the REQUEST authorizers."""
    defined = {function.name for function in app.pure_lambda_functions}
    definitions: dict[str, Any] = {}
    resources: dict[str, Any] = {}
    for spec in REQUEST_AUTHORIZERS:
        if spec.function_name not in defined:
            continue
        function = function_logical_id(spec.function_name)
        authorizer: dict[str, Any] = {
            "type": "request",
            "authorizerUri": sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31"
                f"/functions/${{{function}.Arn}}/invocations"
            ),
            "authorizerResultTtlInSeconds": spec.ttl_seconds,
        }
        if spec.ttl_seconds:
            authorizer["identitySource"] = ", ".join(spec.identity_sources)
        definitions[spec.replaces] = {
            "type": "apiKey",
            "name": "Unused",
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": authorizer,
        }
        resources[f"{function}InvokePermission"] = invoke_permission(
            function,
            "apigateway.amazonaws.com",
            sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestAPI}/*"),
        )
    return definitions, resources


def rest_api_overrides(app: Chalice, stage: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deep-merged into Chalice's `RestAPI`: gateway responses, authorizers, throttling."""
    definitions, resources = request_authorizer_overrides(app)
    body: dict[str, Any] = {"x-amazon-apigateway-gateway-responses": gateway_responses()}
    if definitions:
        body["securityDefinitions"] = definitions
    properties: dict[str, Any] = {
        "DefinitionBody": body,
        "MethodSettings": [
            {
                "ResourcePath": "/*",
                "HttpMethod": "*",
                "ThrottlingRateLimit": THROTTLE_RATE,
                "ThrottlingBurstLimit": THROTTLE_BURST,
                "MetricsEnabled": True,
            }
        ],
    }
    if stages.stage_option(stage, "xray", False):
        properties["TracingEnabled"] = True
    return {"Properties": properties}, resources
