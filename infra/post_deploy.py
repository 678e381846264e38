"""`make post-deploy STAGE=<stage>`: what `chalice deploy --stage <stage>` cannot express.

Run after every `chalice deploy` of a stage deployed that way (docs/deploy.md). Each step reads
the current state first and changes only what differs, so a second run changes nothing (it
prints `nothing to change`). What it applies, from the same definitions as the merge template:

- Gateway Responses (`infra.cfn_api.gateway_responses`): the contract's error body and every
  security header on API Gateway's own errors;
- the REQUEST authorizer (`infra.cfn_api.REQUEST_AUTHORIZERS`): Chalice's TOKEN authorizer
  becomes a REQUEST authorizer backed by `deskguard_request_authorizer`, ttl 0, with the invoke
  permission for this API (every `chalice deploy` re-imports the API and resets it: rerun);
- stage throttling and metrics (`THROTTLE_RATE`, `THROTTLE_BURST`), then a new deployment of
  the API stage when any of the above changed;
- the scanner functions (`infra.cfn_scanner`): the ClamAV layer (a new layer version only when
  the zip's SHA-256 differs from the latest one's), attached next to Chalice's managed layer,
  their ephemeral storage, and the on-failure destination of their asynchronous invocations;
- the upload trigger: the uploads bucket's EventBridge notifications, the `Object Created` rule
  -> `scan_attachment` and its invoke permission;
- the inbound-mail trigger, the same for the inbound-mail bucket's `inbound/` -> `ingest_mail`;
- the audit chainer's trigger: the audit table's stream -> `chain_audit_records`;
- ticket notifications: the webhooks table's stream -> `route_notifications` and the
  notifications queue -> `send_notifications`.

Names come from the data stack's outputs (`infra.data_stack`) and Chalice's deployed state
(`.chalice/deployed/<stage>.json`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from infra import data_stack, stages
from infra.cfn_api import REQUEST_AUTHORIZERS, THROTTLE_BURST, THROTTLE_RATE, gateway_responses
from infra.cfn_audit import audit_stream_mapping
from infra.cfn_mail_intake import mail_rule
from infra.cfn_notifications import router_stream_mapping, sender_queue_mapping
from infra.cfn_scanner import event_invoke_config, upload_rule
from infra.errors import OperatorError
from infra.resources import (
    AUDIT_CHAINER_FUNCTION,
    MAIL_INTAKE_FUNCTION,
    NOTIFICATIONS_QUEUE,
    NOTIFICATIONS_ROUTER_FUNCTION,
    NOTIFICATIONS_SENDER_FUNCTION,
    SCANNER_FUNCTION,
    SCANNER_FUNCTIONS,
)

ROOT = Path(__file__).resolve().parent.parent
LAYER_ZIP = ROOT / "build" / "scanner-layer" / "clamav-layer.zip"
UPLOAD_PERMISSION_SID = "deskguard-upload-created"
MAIL_PERMISSION_SID = "deskguard-inbound-mail-stored"
# A layer uploaded inline is limited to 50 MB; larger ones go through the artifacts bucket.
INLINE_LAYER_LIMIT = 50 * 1024 * 1024


class NotDeployed(OperatorError, RuntimeError):
    """`chalice deploy` has not deployed the stage (no REST API recorded)."""


def deployed_state(stage: str, root: Path = ROOT) -> dict[str, dict[str, Any]]:
    """Chalice's record of the stage's resources, by resource name."""
    path = root / ".chalice" / "deployed" / f"{stage}.json"
    if not path.exists():
        raise NotDeployed(
            f"No {path.relative_to(root)}: run `chalice deploy --stage {stage}` first."
        )
    data = json.loads(path.read_text())
    return {resource["name"]: resource for resource in data.get("resources", [])}


class PostDeploy:
    """Applies the steps; `changes` lists what each run changed."""

    def __init__(
        self,
        stage: str,
        outputs: dict[str, str],
        rest_api_id: str,
        *,
        clients: Any = None,
        layer_zip: Path | None = LAYER_ZIP,
        artifacts_bucket: str | None = None,
    ) -> None:
        import boto3

        make = clients or boto3.client
        self.stage = stage
        self.outputs = outputs
        self.api_id = rest_api_id
        self.settings = stages.stage_settings(stage)
        self.api_stage = str(stages.stage_option(stage, "api_gateway_stage", "api"))
        self.apigw = make("apigateway")
        self.lam = make("lambda")
        self.events = make("events")
        self.s3 = make("s3")
        self.layer_zip = layer_zip
        self.artifacts_bucket = artifacts_bucket
        self.changes: list[str] = []
        arn = outputs["DataKeyArn"].split(":")
        self.partition, self.region, self.account = arn[1], arn[3], arn[4]

    # -- helpers ---------------------------------------------------------------------------
    def _function_arn(self, name: str) -> str:
        function = data_stack.function_name(self.stage, name)
        return f"arn:{self.partition}:lambda:{self.region}:{self.account}:function:{function}"

    def _has_permission(self, function: str, sid: str) -> bool:
        try:
            policy = json.loads(self.lam.get_policy(FunctionName=function)["Policy"])
        except ClientError:
            return False
        return any(statement.get("Sid") == sid for statement in policy.get("Statement", []))

    def _permit(self, function: str, sid: str, principal: str, source_arn: str) -> None:
        if self._has_permission(function, sid):
            return
        self.lam.add_permission(
            FunctionName=function,
            StatementId=sid,
            Action="lambda:InvokeFunction",
            Principal=principal,
            SourceArn=source_arn,
        )
        self.changes.append(f"invoke permission {sid} on {function.rsplit(':', 1)[-1]}")

    # -- API Gateway -----------------------------------------------------------------------
    def gateway_responses(self) -> bool:
        changed = False
        for response_type, wanted in gateway_responses().items():
            try:
                current = self.apigw.get_gateway_response(
                    restApiId=self.api_id, responseType=response_type
                )
            except ClientError:
                current = {}
            if (
                current.get("statusCode") == wanted["statusCode"]
                and current.get("responseParameters", {}) == wanted["responseParameters"]
                and current.get("responseTemplates", {}) == wanted["responseTemplates"]
            ):
                continue
            self.apigw.put_gateway_response(
                restApiId=self.api_id, responseType=response_type, **wanted
            )
            self.changes.append(f"gateway response {response_type}")
            changed = True
        return changed

    def request_authorizers(self) -> bool:
        changed = False
        authorizers = self.apigw.get_authorizers(restApiId=self.api_id).get("items", [])
        for spec in REQUEST_AUTHORIZERS:
            current = next((a for a in authorizers if a["name"] == spec.replaces), None)
            if current is None:
                continue  # the app attaches no route to it
            function = self._function_arn(spec.function_name)
            uri = (
                f"arn:{self.partition}:apigateway:{self.region}:lambda:path/2015-03-31"
                f"/functions/{function}/invocations"
            )
            sources = ", ".join(spec.identity_sources) if spec.ttl_seconds else ""
            wanted = {
                "/type": "REQUEST",
                "/authorizerUri": uri,
                "/authorizerResultTtlInSeconds": str(spec.ttl_seconds),
                "/identitySource": sources,
            }
            have = {
                "/type": current.get("type"),
                "/authorizerUri": current.get("authorizerUri"),
                "/authorizerResultTtlInSeconds": str(current.get("authorizerResultTtlInSeconds")),
                "/identitySource": current.get("identitySource", ""),
            }
            operations = [
                {"op": "replace", "path": path, "value": value}
                for path, value in wanted.items()
                if have[path] != value
            ]
            if operations:
                self.apigw.update_authorizer(
                    restApiId=self.api_id, authorizerId=current["id"], patchOperations=operations
                )
                self.changes.append(f"authorizer {spec.replaces}: REQUEST via {spec.function_name}")
                changed = True
            self._permit(
                function,
                f"deskguard-authorizer-{self.api_id}",
                "apigateway.amazonaws.com",
                f"arn:{self.partition}:execute-api:{self.region}:{self.account}:{self.api_id}/*",
            )
        return changed

    def stage_settings(self) -> bool:
        stage = self.apigw.get_stage(restApiId=self.api_id, stageName=self.api_stage)
        current = stage.get("methodSettings", {}).get("*/*", {})
        wanted = {
            "throttling/rateLimit": (float(THROTTLE_RATE), "throttlingRateLimit", float),
            "throttling/burstLimit": (THROTTLE_BURST, "throttlingBurstLimit", int),
            "metrics/enabled": (True, "metricsEnabled", bool),
        }
        operations = [
            {"op": "replace", "path": f"/*/*/{path}", "value": str(value).lower()}
            if isinstance(value, bool)
            else {"op": "replace", "path": f"/*/*/{path}", "value": str(value)}
            for path, (value, key, kind) in wanted.items()
            if key not in current or kind(current[key]) != value
        ]
        if not operations:
            return False
        self.apigw.update_stage(
            restApiId=self.api_id, stageName=self.api_stage, patchOperations=operations
        )
        self.changes.append(f"stage {self.api_stage}: throttling {THROTTLE_RATE}/{THROTTLE_BURST}")
        return True

    # -- the scanner -----------------------------------------------------------------------
    def scanner_layer(self) -> str | None:
        """The ClamAV layer version's ARN (published when the zip changed); None without a zip."""
        if self.layer_zip is None or not self.layer_zip.exists():
            return None
        data = self.layer_zip.read_bytes()
        sha = base64.b64encode(hashlib.sha256(data).digest()).decode()
        name = f"{self.settings.table_prefix}-clamav"
        versions = self.lam.list_layer_versions(LayerName=name).get("LayerVersions", [])
        if versions:
            latest = max(versions, key=lambda v: v["Version"])
            arn = str(latest["LayerVersionArn"])
            version = self.lam.get_layer_version(LayerName=name, VersionNumber=latest["Version"])
            if version["Content"]["CodeSha256"] == sha:
                return arn
        if len(data) > INLINE_LAYER_LIMIT:
            if not self.artifacts_bucket:
                raise OperatorError("the ClamAV layer is over 50 MB: set ARTIFACTS_BUCKET")
            key = f"{data_stack.stack_name(self.stage)}/{self.layer_zip.name}"
            self.s3.put_object(Bucket=self.artifacts_bucket, Key=key, Body=data)
            content: dict[str, Any] = {"S3Bucket": self.artifacts_bucket, "S3Key": key}
        else:
            content = {"ZipFile": data}
        published = self.lam.publish_layer_version(
            LayerName=name,
            Description="ClamAV (clamd, freshclam) with its libraries and loader, /opt",
            Content=content,
            CompatibleRuntimes=["python3.11"],
            CompatibleArchitectures=["x86_64"],
        )
        self.changes.append(f"layer {name} version {published['Version']}")
        return str(published["LayerVersionArn"])

    def scanner_functions(self, layer_arn: str | None) -> None:
        layer_name = f":layer:{self.settings.table_prefix}-clamav:"
        for name, spec in SCANNER_FUNCTIONS.items():
            function = data_stack.function_name(self.stage, name)
            config = self.lam.get_function_configuration(FunctionName=function)
            current_layers = [layer["Arn"] for layer in config.get("Layers", [])]
            layers = [arn for arn in current_layers if layer_name not in arn]
            if layer_arn:
                layers.append(layer_arn)
            update: dict[str, Any] = {}
            if layers != current_layers:
                update["Layers"] = layers
            if config.get("EphemeralStorage", {}).get("Size") != spec.ephemeral_mb:
                update["EphemeralStorage"] = {"Size": spec.ephemeral_mb}
            if update:
                self.lam.update_function_configuration(FunctionName=function, **update)
                self.changes.append(f"{function}: {', '.join(sorted(update))}")
            wanted = event_invoke_config(self.outputs["ScannerDeadLetterQueueArn"])
            # The Lambda API names the destination only (`Type` is SAM's).
            wanted["DestinationConfig"]["OnFailure"].pop("Type", None)
            try:
                current = self.lam.get_function_event_invoke_config(FunctionName=function)
            except ClientError:
                current = {}
            if any(current.get(key) != value for key, value in wanted.items()):
                self.lam.put_function_event_invoke_config(FunctionName=function, **wanted)
                self.changes.append(f"{function}: on-failure destination")

    def upload_trigger(self) -> None:
        function = self._function_arn(SCANNER_FUNCTION)
        self._bucket_trigger(
            self.settings.uploads_bucket,
            f"{self.settings.table_prefix}-upload-created",
            upload_rule(self.settings, function),
            function,
            UPLOAD_PERMISSION_SID,
        )

    def mail_trigger(self) -> None:
        """Stored inbound mail -> `ingest_mail` (SES's receipt rules are in the data stack)."""
        function = self._function_arn(MAIL_INTAKE_FUNCTION)
        self._bucket_trigger(
            self.settings.inbound_mail_bucket,
            f"{self.settings.table_prefix}-inbound-mail-stored",
            mail_rule(self.settings, function),
            function,
            MAIL_PERMISSION_SID,
        )

    def _bucket_trigger(
        self, bucket: str, rule: str, wanted: dict[str, Any], function: str, sid: str
    ) -> None:
        """The bucket's EventBridge notifications, the rule, its target and the permission."""
        notifications = self.s3.get_bucket_notification_configuration(Bucket=bucket)
        notifications.pop("ResponseMetadata", None)
        if "EventBridgeConfiguration" not in notifications:
            notifications["EventBridgeConfiguration"] = {}
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=notifications
            )
            self.changes.append(f"bucket {bucket}: EventBridge notifications")
        try:
            current = self.events.describe_rule(Name=rule)
        except ClientError:
            current = {}
        pattern = json.loads(current.get("EventPattern", "null"))
        if pattern != wanted["EventPattern"] or current.get("State") != "ENABLED":
            self.events.put_rule(
                Name=rule,
                EventPattern=json.dumps(wanted["EventPattern"]),
                Description=wanted["Description"],
                State="ENABLED",
            )
            self.changes.append(f"rule {rule}")
        rule_arn = self.events.describe_rule(Name=rule)["Arn"]
        targets = self.events.list_targets_by_rule(Rule=rule).get("Targets", [])
        have = [{"Id": t["Id"], "Arn": t["Arn"]} for t in targets]
        if have != wanted["Targets"]:
            self.events.put_targets(Rule=rule, Targets=wanted["Targets"])
            self.changes.append(f"rule {rule} -> {function.rsplit(':', 1)[-1]}")
        self._permit(function, sid, "events.amazonaws.com", rule_arn)

    # -- the audit chainer -----------------------------------------------------------------
    def audit_stream(self) -> None:
        function = data_stack.function_name(self.stage, AUDIT_CHAINER_FUNCTION)
        properties = dict(audit_stream_mapping(function)["Properties"])
        properties["EventSourceArn"] = self.outputs["AuditTableStreamArn"]
        mappings = self.lam.list_event_source_mappings(
            FunctionName=function, EventSourceArn=properties["EventSourceArn"]
        ).get("EventSourceMappings", [])
        if mappings:
            current = mappings[0]
            keys = ("BatchSize", "MaximumBatchingWindowInSeconds", "FilterCriteria")
            update = {k: properties[k] for k in keys if current.get(k) != properties[k]}
            if update:
                self.lam.update_event_source_mapping(UUID=current["UUID"], **update)
                self.changes.append(f"audit stream -> {function}: {', '.join(sorted(update))}")
            return
        self.lam.create_event_source_mapping(**properties)
        self.changes.append(f"audit stream -> {function}")

    # -- ticket notifications --------------------------------------------------------------
    def _mapping(self, label: str, properties: dict[str, Any], keys: tuple[str, ...]) -> None:
        function = properties["FunctionName"]
        mappings = self.lam.list_event_source_mappings(
            FunctionName=function, EventSourceArn=properties["EventSourceArn"]
        ).get("EventSourceMappings", [])
        if mappings:
            current = mappings[0]
            update = {k: properties[k] for k in keys if current.get(k) != properties[k]}
            if update:
                self.lam.update_event_source_mapping(UUID=current["UUID"], **update)
                self.changes.append(f"{label} -> {function}: {', '.join(sorted(update))}")
            return
        self.lam.create_event_source_mapping(**properties)
        self.changes.append(f"{label} -> {function}")

    def notification_triggers(self) -> None:
        """The webhooks stream -> router and the notifications queue -> sender (when the data
        stack made the queue)."""
        queue_arn = self.outputs.get(f"{NOTIFICATIONS_QUEUE}Arn")
        stream_arn = self.outputs.get("WebhooksTableStreamArn")
        if not queue_arn or not stream_arn:
            return
        router = dict(
            router_stream_mapping(
                data_stack.function_name(self.stage, NOTIFICATIONS_ROUTER_FUNCTION)
            )["Properties"]
        )
        router["EventSourceArn"] = stream_arn
        self._mapping(
            "webhooks stream",
            router,
            ("BatchSize", "MaximumBatchingWindowInSeconds", "FilterCriteria"),
        )
        sender = dict(
            sender_queue_mapping(
                data_stack.function_name(self.stage, NOTIFICATIONS_SENDER_FUNCTION)
            )["Properties"]
        )
        sender["EventSourceArn"] = queue_arn
        self._mapping(
            "notifications queue", sender, ("BatchSize", "MaximumBatchingWindowInSeconds")
        )

    # -- all -------------------------------------------------------------------------------
    def run(self) -> list[str]:
        api_changed = self.gateway_responses()
        api_changed = self.request_authorizers() or api_changed
        if api_changed:
            self.apigw.create_deployment(restApiId=self.api_id, stageName=self.api_stage)
            self.changes.append(f"deployment of stage {self.api_stage}")
        self.stage_settings()
        self.scanner_functions(self.scanner_layer())
        self.upload_trigger()
        self.mail_trigger()
        self.audit_stream()
        self.notification_triggers()
        return self.changes


def apply(
    stage: str,
    outputs: dict[str, str] | None = None,
    rest_api_id: str | None = None,
    **options: Any,
) -> list[str]:
    """Apply every step for `stage`; returns what changed (empty when nothing had to)."""
    outputs = outputs if outputs is not None else data_stack.outputs(stage)
    if rest_api_id is None:
        rest_api = deployed_state(stage).get("rest_api")
        if not rest_api:
            raise NotDeployed(f"Chalice recorded no REST API for stage {stage}.")
        rest_api_id = str(rest_api["rest_api_id"])
    return PostDeploy(stage, outputs, rest_api_id, **options).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--layer-zip", type=Path, default=LAYER_ZIP)
    parser.add_argument("--artifacts-bucket", help="S3 bucket for a layer over 50 MB")
    args = parser.parse_args(argv)
    changes = apply(args.stage, layer_zip=args.layer_zip, artifacts_bucket=args.artifacts_bucket)
    if args.layer_zip is None or not args.layer_zip.exists():
        print(f"WARNING: no ClamAV layer at {args.layer_zip} (make scanner-layer): not attached")
    for change in changes:
        print(f"changed: {change}")
    print(f"stage {args.stage}: {len(changes)} change(s)" if changes else "nothing to change")
    return 0


if __name__ == "__main__":
    sys.exit(main())
