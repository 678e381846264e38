"""`make infra STAGE=<stage>`: the stage's data resources as a CloudFormation stack of their own.

For stages whose functions are deployed by plain `chalice deploy --stage <stage>` (docs/deploy.md,
"Per-tenant stage with chalice deploy"). The stack `deskguard-<stage>-data` holds what outlives
code: the data key, the tables, the buckets and their policies, the signing-key secret, the
scan-events bus, the scanner's dead-letter queue, the notifications queue with its dead-letter
queue, SES's inbound receipt rule set, the audit signing key, the alarm topic and alarms, and
the functions' log groups with the security metric filters and saved queries. Every
resource comes from the same builders as the all-in-CloudFormation merge template
(`infra.template`); what differs is only how they name the functions and roles, which here are
Chalice's deploy names (`deskguard-<stage>-<function>`, fixed by `chalice deploy`), so the bucket
policy, the key policy and the alarms can name them before they exist.

Every resource's name and ARN is a stack output (exported as `<stack>-<output>`):
`infra.chalice_stage` resolves the IAM policies against them, and `infra.post_deploy` reads them.
Running it again updates the stack in place; an unchanged template changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chalice.app import Chalice

from infra import stages
from infra.cfn_audit import audit_lag_alarm, audit_signing_key
from infra.cfn_buckets import bucket_policy, bucket_resource
from infra.cfn_common import TemplateError, retain, sub
from infra.cfn_keys import data_key, signing_secret
from infra.cfn_mail_intake import receipt_rules
from infra.cfn_notifications import notification_data_resources
from infra.cfn_observability import (
    FRAGMENT_SECTIONS,
    alarm_topic,
    function_log_groups,
    observability_fragments,
    wire_fragment,
)
from infra.cfn_scanner import scanner_data_resources
from infra.cfn_tables import AUDIT_TABLE, table_resource
from infra.resources import (
    API_HANDLER,
    BUCKETS,
    FUNCTION_POLICIES,
    MAIL_INTAKE_FUNCTION,
    NOTIFICATIONS_SENDER_FUNCTION,
    SCANNER_FUNCTIONS,
    app_functions,
    load_app,
    table_specs,
)
from infra.template import checked_stage

# Resource types whose `Fn::GetAtt ... Arn` exists (the rest are referenced by `Ref`).
_ARN_ATTRIBUTE = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::SQS::Queue",
    "AWS::Events::EventBus",
    "AWS::Logs::LogGroup",
}
# Resource types whose `Ref` is their name.
_NAMED = {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Logs::LogGroup"}
# Resource types whose `Ref` is their ARN.
_REF_IS_ARN = {"AWS::SecretsManager::Secret", "AWS::SNS::Topic"}


def stack_name(stage: str) -> str:
    return f"deskguard-{stage}-data"


def app_name() -> str:
    name: str = stages.read_config()["app_name"]
    return name


def function_name(stage: str, name: str) -> str:
    """The Lambda function name `chalice deploy` gives a function of the app."""
    prefix = f"{app_name()}-{stage}"
    return prefix if name == API_HANDLER else f"{prefix}-{name}"


def role_name(stage: str, name: str) -> str:
    """The role `chalice deploy` creates for a function with its own policy file."""
    return f"{app_name()}-{stage}-{name}"


def _role_arn(stage: str, name: str) -> dict[str, str]:
    return sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role_name(stage, name)}")


def _log_groups(app: Chalice, stage: str, production: bool) -> dict[str, Any]:
    """The functions' log groups, created here so the metric filters can be (Chalice only sets
    the retention of an existing group)."""
    days = stages.stage_option(stage, "log_retention_in_days", None)
    groups: dict[str, Any] = {}
    if not days:
        return groups
    for logical_id, name in zip(
        function_log_groups(app, stage), _log_group_functions(app), strict=True
    ):
        groups[logical_id] = retain(
            {
                "Type": "AWS::Logs::LogGroup",
                "Properties": {
                    "LogGroupName": f"/aws/lambda/{function_name(stage, name)}",
                    "RetentionInDays": days,
                },
            },
            production,
        )
    return groups


def _log_group_functions(app: Chalice) -> list[str]:
    """Function names in `function_log_groups`' order (the API handler first)."""
    names = app_functions(app)
    return sorted(names, key=lambda name: name != API_HANDLER)


def build_data_template(stage: str, app: Chalice | None = None) -> dict[str, Any]:
    """The data stack's template for `stage`."""
    settings, secret_name = checked_stage(stage)
    app = app or load_app()
    production = stages.is_production(stage)
    functions = app_functions(app)
    resources: dict[str, Any] = {}
    resources.update(data_key(stage))
    for spec in table_specs():
        resources[spec.logical_id] = table_resource(spec, settings, production)
    scanner_arns: list[Any] = [
        _role_arn(stage, name) for name in functions if FUNCTION_POLICIES.get(name) == "scanner"
    ]
    for bucket_spec in BUCKETS:
        resources[bucket_spec.logical_id] = bucket_resource(bucket_spec.kind, settings, production)
        resources[f"{bucket_spec.logical_id}Policy"] = bucket_policy(
            bucket_spec.kind, [], scanner_arns
        )
    resources["SigningKeySecret"] = signing_secret(secret_name)
    resources.update(alarm_topic())
    if any(name in functions for name in SCANNER_FUNCTIONS):
        resources.update(scanner_data_resources(settings))
    if NOTIFICATIONS_SENDER_FUNCTION in functions:
        resources.update(notification_data_resources(settings))
    if MAIL_INTAKE_FUNCTION in functions:
        resources.update(receipt_rules(settings))  # the trigger itself: infra.post_deploy
    chainers = [name for name in functions if FUNCTION_POLICIES.get(name) == "audit_chainer"]
    if chainers:
        resources.update(audit_signing_key(stage, [_role_arn(stage, n) for n in chainers]))
        chainer = "chain_audit_records"
        resources["AuditChainerLagAlarm"] = audit_lag_alarm(function_name(stage, chainer))
    resources.update(_log_groups(app, stage, production))

    template: dict[str, Any] = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Deskguard {stage}: data resources (functions: chalice deploy)",
        "Resources": resources,
    }
    log_groups = [g for g in function_log_groups(app, stage) if g in resources]
    api_group = log_groups[0] if log_groups else None
    for name, raw in observability_fragments(settings):
        if api_group is None:
            break  # no log groups (no retention set): no metric filters either
        fragment = wire_fragment(raw, stage, log_groups)
        for section in FRAGMENT_SECTIONS:
            entries = fragment.get(section, {})
            target = template.setdefault(section, {})
            clash = set(entries) & set(target)
            if clash:
                raise TemplateError(f"{name}: {section} {sorted(clash)} already defined")
            target.update(entries)
    template.setdefault("Outputs", {}).update(_outputs(resources))
    dangling = sorted(_references(template) - set(resources))
    if dangling:
        raise TemplateError(f"data stack {stage}: references to missing resources {dangling}")
    return template


def _outputs(resources: dict[str, Any]) -> dict[str, Any]:
    """`<LogicalId>Name` and `<LogicalId>Arn` for every named resource (the audit and webhooks
    tables' streams too), each exported as `<stack>-<output>`."""
    outputs: dict[str, Any] = {}

    def add(key: str, value: Any) -> None:
        outputs[key] = {"Value": value, "Export": {"Name": sub(f"${{AWS::StackName}}-{key}")}}

    for logical_id, resource in resources.items():
        kind = resource.get("Type", "")
        if kind in _ARN_ATTRIBUTE:
            add(f"{logical_id}Arn", {"Fn::GetAtt": [logical_id, "Arn"]})
            if kind in _NAMED:
                add(f"{logical_id}Name", {"Ref": logical_id})
        elif kind in _REF_IS_ARN:
            add(f"{logical_id}Arn", {"Ref": logical_id})
    add(f"{_audit_table()}StreamArn", {"Fn::GetAtt": [_audit_table(), "StreamArn"]})
    # The notifications router's trigger (infra.post_deploy).
    add(f"{_webhooks_table()}StreamArn", {"Fn::GetAtt": [_webhooks_table(), "StreamArn"]})
    return outputs


def _webhooks_table() -> str:
    return next(spec.logical_id for spec in table_specs() if spec.short_name == "webhooks")


def _audit_table() -> str:
    return next(spec.logical_id for spec in table_specs() if spec.short_name == AUDIT_TABLE)


def _references(value: Any) -> set[str]:
    """Logical ids named by `Ref`, `Fn::GetAtt` and `Fn::Sub` anywhere in `value`."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str) and not item.startswith("AWS::"):
                found.add(item)
            elif key == "Fn::GetAtt" and isinstance(item, list):
                found.add(str(item[0]))
            elif key == "Fn::Sub" and isinstance(item, str):
                found |= {
                    name.split(".")[0]
                    for name in _sub_variables(item)
                    if not name.startswith("AWS::")
                }
            else:
                found |= _references(item)
    elif isinstance(value, list):
        for item in value:
            found |= _references(item)
    return found


def _sub_variables(expression: str) -> list[str]:
    names = []
    rest = expression
    while "${" in rest:
        start = rest.index("${") + 2
        end = rest.index("}", start)
        if not rest[start:end].startswith("!"):
            names.append(rest[start:end])
        rest = rest[end + 1 :]
    return names


def render(template: dict[str, Any]) -> str:
    """Compact JSON (a template body sent inline is limited to 51,200 bytes)."""
    return json.dumps(template, separators=(",", ":"), sort_keys=True)


# CloudFormation's limit for a template body sent inline; larger ones go through S3.
INLINE_TEMPLATE_LIMIT = 51_200


def _template_source(stage: str, body: str, artifacts_bucket: str | None) -> dict[str, str]:
    if len(body.encode()) <= INLINE_TEMPLATE_LIMIT:
        return {"TemplateBody": body}
    if not artifacts_bucket:
        raise TemplateError(
            f"the data template is {len(body.encode())} bytes (inline limit"
            f" {INLINE_TEMPLATE_LIMIT}): set ARTIFACTS_BUCKET to upload it"
        )
    import boto3

    key = f"{stack_name(stage)}/data-template.json"
    boto3.client("s3").put_object(Bucket=artifacts_bucket, Key=key, Body=body.encode())
    return {"TemplateURL": f"https://{artifacts_bucket}.s3.amazonaws.com/{key}"}


def deploy(stage: str, artifacts_bucket: str | None = None, client: Any = None) -> str:
    """Create or update the data stack; returns `created`, `updated` or `unchanged`."""
    import boto3
    from botocore.exceptions import ClientError

    client = client or boto3.client("cloudformation")
    name = stack_name(stage)
    source = _template_source(stage, render(build_data_template(stage)), artifacts_bucket)
    tags = [{"Key": "deskguard:stage", "Value": stage}]
    try:
        client.describe_stacks(StackName=name)
    except ClientError as error:
        if "does not exist" not in str(error):
            raise
        client.create_stack(StackName=name, Tags=tags, **source)
        client.get_waiter("stack_create_complete").wait(StackName=name)
        return "created"
    try:
        client.update_stack(StackName=name, Tags=tags, **source)
    except ClientError as error:
        if "No updates are to be performed" in str(error):
            return "unchanged"
        raise
    client.get_waiter("stack_update_complete").wait(StackName=name)
    return "updated"


def outputs(stage: str, client: Any = None) -> dict[str, str]:
    """The data stack's outputs by key."""
    import boto3

    client = client or boto3.client("cloudformation")
    stack = client.describe_stacks(StackName=stack_name(stage))["Stacks"][0]
    return {entry["OutputKey"]: entry["OutputValue"] for entry in stack.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--artifacts-bucket", help="S3 bucket for a template over 51,200 bytes")
    parser.add_argument("--print", action="store_true", help="print the template, deploy nothing")
    args = parser.parse_args(argv)
    if args.print:
        print(json.dumps(build_data_template(args.stage), indent=2, sort_keys=True))
        return 0
    problem = stages.public_settings_problem(args.stage)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    result = deploy(args.stage, args.artifacts_bucket)
    print(f"stack {stack_name(args.stage)}: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
