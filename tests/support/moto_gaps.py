"""Four moto 5.2 gaps the chalice-deploy path meets, filled so the rest runs against moto.

1. API Gateway cannot import Chalice's API definition: `ImportRestApi` reads `info.description`
   (Chalice writes none: a KeyError, answered as HTTP 500) and `PutRestApi` refuses any Swagger
   2.0 document (`InvalidOpenApiDocVersionException`); neither creates authorizers from
   `securityDefinitions`. Filled: the resources, methods (with their authorizer), Lambda proxy
   integrations and authorizers the document declares are created through moto's own backend.
2. `UpdateFunctionConfiguration` ignores `EphemeralStorage` (moto applies only Description,
   Handler, MemorySize, Role, Runtime, Timeout, VpcConfig, Environment and Layers). Filled: the
   size is stored.
3. `GetBucketNotificationConfiguration` never returns `EventBridgeConfiguration`, though
   `PutBucketNotificationConfiguration` stores it. Filled: it is returned when set.
4. `GetLayerVersionByArn` is not implemented (HTTP 500, `NotImplementedError`); Chalice calls it
   on every redeploy to find its managed layer. Filled: `GetLayerVersion` by the ARN's parts.

Everything else (the data stack, Lambda, IAM, EventBridge, event source mappings, stage
deployment) is moto's own. `python -m tests.support.moto_gaps PORT` runs a moto server with these
until SIGTERM; tests apply `patches()` with monkeypatch.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import Any

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _import_swagger(backend: Any, api: Any, document: dict[str, Any]) -> None:
    authorizers: dict[str, str] = {}
    for name, definition in document.get("securityDefinitions", {}).items():
        spec = definition.get("x-amazon-apigateway-authorizer", {})
        created = backend.create_authorizer(
            api.id,
            name=name,
            authorizer_type=str(spec.get("type", "token")).upper(),
            authorizer_uri=spec.get("authorizerUri"),
            identity_source=spec.get("identitySource", "method.request.header.Authorization"),
            authorizer_result_ttl=spec.get("authorizerResultTtlInSeconds", 300),
        )
        authorizers[name] = created.id
    root = api.get_resource_for_path("/").id
    for path, operations in sorted(document.get("paths", {}).items()):
        parent = root
        built = ""
        for part in [p for p in path.split("/") if p]:
            built += "/" + part
            existing = next((r for r in api.resources.values() if r.get_path() == built), None)
            if existing is None:
                existing = backend.create_resource(api.id, parent, part)
            parent = existing.id
        for method, operation in operations.items():
            if method.lower() not in HTTP_METHODS and method != "x-amazon-apigateway-any-method":
                continue
            verb = "ANY" if method.startswith("x-amazon") else method.upper()
            security = [name for entry in operation.get("security", []) for name in entry]
            authorizer = authorizers.get(security[0]) if security else None
            backend.put_method(
                api.id,
                parent,
                verb,
                authorization_type="CUSTOM" if authorizer else "NONE",
                authorizer_id=authorizer,
            )
            integration = operation.get("x-amazon-apigateway-integration", {})
            backend.put_integration(
                api.id,
                parent,
                verb,
                integration_type=str(integration.get("type", "aws_proxy")).upper(),
                uri=integration.get("uri", ""),
                integration_method=integration.get("httpMethod", "POST"),
            )


def patches() -> list[tuple[Any, str, Any]]:
    """(owner, attribute, replacement) for each gap."""
    from moto.apigateway.models import APIGatewayBackend
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda.responses import LambdaResponse
    from moto.core.responses import ActionResult
    from moto.s3.responses import S3Response

    original_import = APIGatewayBackend.import_rest_api
    original_put = APIGatewayBackend.put_rest_api
    original_update = LambdaFunction.update_configuration
    original_notification = S3Response.get_bucket_notification

    def import_rest_api(self: Any, api_doc: dict[str, Any], fail_on_warnings: bool) -> Any:
        if "swagger" not in api_doc:
            return original_import(self, api_doc, fail_on_warnings)
        info = api_doc.get("info", {})
        api = self.create_rest_api(name=info.get("title", ""), description="")
        _import_swagger(self, api, api_doc)
        return api

    def put_rest_api(
        self: Any,
        function_id: str,
        api_doc: dict[str, Any],
        fail_on_warnings: bool,
        mode: str = "merge",
    ) -> Any:
        if "swagger" not in api_doc:
            return original_put(self, function_id, api_doc, fail_on_warnings, mode)
        api = self.get_rest_api(function_id)
        if mode == "overwrite":
            api.resources = {}
            api.default = api.add_child("/")
            api.authorizers = {}
        _import_swagger(self, api, api_doc)
        return api

    def update_configuration(self: Any, config_updates: dict[str, Any]) -> Any:
        result = original_update(self, config_updates)
        if "EphemeralStorage" in config_updates:
            self.ephemeral_storage = int(config_updates["EphemeralStorage"]["Size"])
            result = self.get_configuration()
        return result

    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if config is None or config.event_bridge is None:
            return original_notification(self)
        result: dict[str, Any] = {"EventBridgeConfiguration": {}}
        for key, items, arn in (
            ("TopicConfigurations", config.topic, "TopicArn"),
            ("QueueConfigurations", config.queue, "QueueArn"),
            ("LambdaFunctionConfigurations", config.cloud_function, "LambdaFunctionArn"),
        ):
            result[key] = [{"Id": i.id, arn: i.arn, "Events": i.events} for i in items]
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    def get_layer_version_by_arn(self: Any) -> str:
        name, version = str(self.querystring["Arn"][0]).split(":")[-2:]
        return json.dumps(self.backend.get_layer_version(name, version).get_layer_version())

    return [
        (LambdaResponse, "get_layer_version_by_arn", get_layer_version_by_arn),
        (APIGatewayBackend, "import_rest_api", import_rest_api),
        (APIGatewayBackend, "put_rest_api", put_rest_api),
        (LambdaFunction, "update_configuration", update_configuration),
        (S3Response, "get_bucket_notification", get_bucket_notification),
    ]


def install() -> None:
    """Apply every patch for the life of the process (the moto server below)."""
    for owner, name, replacement in patches():
        setattr(owner, name, replacement)


def main(argv: list[str]) -> int:
    from moto.server import ThreadedMotoServer

    install()
    port = int(argv[0]) if argv else 5077
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"moto (with the chalice-deploy gaps filled) on http://127.0.0.1:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
