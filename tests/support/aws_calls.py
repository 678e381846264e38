"""A pytest plugin that records every AWS call the app's Lambda functions make during the suite.

Each botocore API call (and each presigned URL or POST, which the function's role signs) made
while a Chalice handler is on the stack is recorded as (function, IAM action, resource ARN).
`tests/deploy/test_iam_policies.py::test_every_recorded_call_is_granted` runs last and checks
every record against the function's policy file, so a handler that starts calling something its
role does not grant fails the suite here instead of failing in AWS.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterator
from email.utils import parseaddr
from types import FrameType
from typing import Any

import pytest

ACCOUNT = "123456789012"


@dataclasses.dataclass(frozen=True)
class Call:
    function: str
    action: str
    resource: str
    operation: str
    # A single-item UpdateItem's attribute names (key and expressions), for policies that limit
    # them with the `dynamodb:Attributes` condition; empty for every other call.
    attributes: tuple[str, ...] = ()


RECORDED: set[Call] = set()


def _function_on_stack(frame: FrameType | None) -> str | None:
    """The Chalice function serving the current call, from the innermost handler frame."""
    from chalice.app import Chalice, ChaliceAuthorizer, EventSourceHandler, LambdaFunction

    while frame is not None:
        self_obj = frame.f_locals.get("self")
        if frame.f_code.co_name == "__call__" and self_obj is not None:
            if isinstance(self_obj, ChaliceAuthorizer | LambdaFunction):
                return str(self_obj.name)
            if isinstance(self_obj, EventSourceHandler):
                return _event_source_name(self_obj)
            if isinstance(self_obj, Chalice):
                return "api_handler"
        frame = frame.f_back
    return None


def _event_source_name(handler: Any) -> str:
    """The Chalice name of an event handler: a schedule, or a `@lambda_function` (Chalice wraps
    those in an EventSourceHandler around a PureLambdaWrapper)."""
    from infra.resources import load_app

    func = getattr(handler.func, "_original_func", handler.func)
    qualified = f"{getattr(func, '__module__', '')}.{getattr(func, '__name__', '')}"
    app = load_app()
    for source in [*app.event_sources, *app.pure_lambda_functions]:
        if source.handler_string == qualified:
            return str(source.name)
    return "unknown_event_source"


def _table_arn(region: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}
_S3_ACTIONS = {
    "HeadObject": ["s3:GetObject"],
    "GetObject": ["s3:GetObject"],
    "PutObject": ["s3:PutObject"],
    "DeleteObject": ["s3:DeleteObject"],
    "GetObjectTagging": ["s3:GetObjectTagging"],
    "PutObjectTagging": ["s3:PutObjectTagging"],
    "DeleteObjectTagging": ["s3:DeleteObjectTagging"],
    "ListObjectsV2": ["s3:ListBucket"],
    "ListObjectVersions": ["s3:ListBucketVersions"],
    "ListObjects": ["s3:ListBucket"],
    "HeadBucket": ["s3:ListBucket"],
}


def _dynamodb(operation: str, params: dict[str, Any], region: str) -> list[tuple[str, str]]:
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        return [
            (f"dynamodb:{_TRANSACT_ACTIONS.get(kind, kind)}", _table_arn(region, body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [
            (f"dynamodb:{operation}", _table_arn(region, table))
            for table in params.get("RequestItems", {})
        ]
    table = params.get("TableName", "")
    return [(f"dynamodb:{operation}", _table_arn(region, table, params.get("IndexName")))]


def _s3(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    bucket = params.get("Bucket", "")
    key = params.get("Key")
    resource = f"arn:aws:s3:::{bucket}/{key}" if key is not None else f"arn:aws:s3:::{bucket}"
    if operation == "CopyObject":
        source = params.get("CopySource")
        read = "s3:GetObject"
        if isinstance(source, dict):
            read += "Version" if source.get("VersionId") else ""
            source = f"{source['Bucket']}/{source['Key']}"
        needs = [("s3:PutObject", resource), (read, f"arn:aws:s3:::{source}")]
        if params.get("Tagging") or params.get("TaggingDirective") == "REPLACE":
            needs.append(("s3:PutObjectTagging", resource))
        return needs
    actions = list(_S3_ACTIONS.get(operation, [f"s3:{operation}"]))
    if operation == "PutObject" and params.get("Tagging"):
        actions.append("s3:PutObjectTagging")
    if operation == "PutObject" and params.get("ObjectLockMode"):
        actions.append("s3:PutObjectRetention")  # a put with lock headers needs it too
    if params.get("VersionId"):
        # s3:GetObject -> s3:GetObjectVersion, s3:PutObjectTagging -> s3:PutObjectVersionTagging
        actions = [
            re.sub(r"^(s3:(?:Get|Put|Delete)Object)(Tagging)?$", r"\1Version\2", action)
            for action in actions
        ]
    return [(action, resource) for action in actions]


def _ses_send(params: dict[str, Any], region: str) -> list[tuple[str, str]]:
    """SES checks the sender identity, and the configuration set when one is named."""
    sender = parseaddr(str(params.get("FromEmailAddress", "")))[1]
    needs = [("ses:SendEmail", f"arn:aws:ses:{region}:{ACCOUNT}:identity/{sender}")]
    if params.get("ConfigurationSetName"):
        name = params["ConfigurationSetName"]
        needs.append(("ses:SendEmail", f"arn:aws:ses:{region}:{ACCOUNT}:configuration-set/{name}"))
    return needs


# SQS authorizes a batch call with the single call's action.
_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, params: dict[str, Any], region: str) -> list[tuple[str, str]]:
    """The queue comes by name (GetQueueUrl) or by URL (its last path segment)."""
    name = params.get("QueueName") or str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
    action = _SQS_BATCH_ACTIONS.get(operation, operation)
    return [(f"sqs:{action}", f"arn:aws:sqs:{region}:{ACCOUNT}:{name}")]


def iam_requirements(  # noqa: PLR0911 (one branch per AWS service)
    service: str, operation: str, params: dict[str, Any], region: str
) -> list[tuple[str, str]]:
    """(IAM action, resource ARN) pairs an API call needs; unknown services map to `*`."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "s3":
        return _s3(operation, params)
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params.get("Entries", [])}
        return [
            ("events:PutEvents", f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus}")
            for bus in sorted(buses)
        ]
    if service == "sesv2" and operation == "SendEmail":
        return _ses_send(params, region)
    if service == "sqs":
        return _sqs(operation, params, region)
    if service == "secretsmanager":
        secret = params.get("SecretId", "")
        arn = f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}-AbCdEf"
        return [(f"secretsmanager:{operation}", arn)]
    if service == "kms":
        # Calls by alias are authorized against the key the alias names.
        key = str(params.get("KeyId", "")).removeprefix("alias/")
        return [(f"kms:{operation}", f"arn:aws:kms:{region}:{ACCOUNT}:key/{key}")]
    return [(f"{service}:{operation}", "*")]


def record(service: str, operation: str, params: dict[str, Any], region: str) -> None:
    function = _function_on_stack(sys._getframe(1))
    if function is None:
        return  # test setup or fixtures, not a function's code
    attributes: tuple[str, ...] = ()
    if (service, operation) == ("dynamodb", "UpdateItem"):
        names = set(params.get("ExpressionAttributeNames", {}).values()) | set(
            params.get("Key", {})
        )
        attributes = tuple(sorted(names))
    for action, resource in iam_requirements(service, operation, params, region):
        RECORDED.add(Call(function, action, resource, operation, attributes))


def _s3_params(request_dict: dict[str, Any]) -> dict[str, Any]:
    redirect = request_dict.get("context", {}).get("s3_redirect") or {}
    return dict(redirect.get("params") or {"Bucket": redirect.get("bucket", "")})


def _install() -> Iterator[None]:
    from botocore.client import BaseClient
    from botocore.signers import RequestSigner, S3PostPresigner

    original_call = BaseClient._make_api_call
    original_url = RequestSigner.generate_presigned_url
    original_post = S3PostPresigner.generate_presigned_post

    def make_api_call(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        meta = self.meta
        record(meta.service_model.service_name, operation_name, api_params, meta.region_name)
        return original_call(self, operation_name, api_params)

    def presigned_url(
        self: Any, request_dict: dict[str, Any], operation_name: str, *args: Any, **kw: Any
    ) -> Any:
        # A presigned URL is used later with this role's credentials: it needs the same grant.
        record("s3", operation_name, _s3_params(request_dict), "")
        return original_url(self, request_dict, operation_name, *args, **kw)

    def presigned_post(self: Any, request_dict: dict[str, Any], *args: Any, **kw: Any) -> Any:
        params = _s3_params(request_dict)
        fields = kw.get("fields") or {}
        params["Key"] = fields.get("key", "")
        if "tagging" in fields:
            params["Tagging"] = fields["tagging"]
        record("s3", "PutObject", params, "")
        return original_post(self, request_dict, *args, **kw)

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    RequestSigner.generate_presigned_url = presigned_url  # type: ignore[method-assign]
    S3PostPresigner.generate_presigned_post = presigned_post  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseClient._make_api_call = original_call  # type: ignore[method-assign]
        RequestSigner.generate_presigned_url = original_url  # type: ignore[method-assign]
        S3PostPresigner.generate_presigned_post = original_post  # type: ignore[method-assign]


_installer: Iterator[None] | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _installer
    config.addinivalue_line("markers", "after_all_tests: run once every other test has run")
    _installer = _install()
    next(_installer)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _installer is not None:
        next(_installer, None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the policy coverage check after every other test has recorded its calls."""
    last = [item for item in items if item.get_closest_marker("after_all_tests")]
    for item in last:
        items.remove(item)
    items.extend(last)
