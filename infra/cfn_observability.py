"""The observability part of the merge template: the alarm topic, every
`infra/observability/*.json` fragment (metric filters, alarms, dashboard) with its tokens
substituted, and the wiring of generated fragments to the functions' log groups."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from chalice.app import Chalice

from chalicelib.core.settings import Settings
from infra import stages
from infra.cfn_common import TemplateError
from infra.resources import API_HANDLER, app_functions, function_logical_id

OBSERVABILITY_DIR = Path(__file__).resolve().parent / "observability"


def alarm_topic() -> dict[str, Any]:
    return {
        "AlarmTopic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "KmsMasterKeyId": "alias/aws/sns",
                "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"},
            },
        }
    }


def _substitute(value: Any, tokens: dict[str, str]) -> Any:
    if isinstance(value, str):
        for token, replacement in tokens.items():
            value = value.replace("{{" + token + "}}", replacement)
        return value
    if isinstance(value, list):
        return [_substitute(item, tokens) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, tokens) for key, item in value.items()}
    return value


FRAGMENT_SECTIONS = ("Conditions", "Resources", "Outputs")


def observability_fragments(
    settings: Settings, directory: Path = OBSERVABILITY_DIR
) -> list[tuple[str, dict[str, Any]]]:
    """Every `*.json` in `directory`: a CloudFormation fragment (Resources/Outputs/Conditions).

    Strings may use `{{stage}}`, `{{table_prefix}}`, `{{metrics_namespace}}` and `{{service}}`;
    resources may reference the stack's logical ids (`APIHandler`, `ApiHandlerLogGroup`,
    `RestAPI`, `AlarmTopic`, tables, buckets).
    """
    env = stages.stage_environment(settings.stage) if settings.stage in stages.stage_names() else {}
    tokens = {
        "stage": settings.stage,
        "table_prefix": settings.table_prefix,
        "metrics_namespace": env.get("POWERTOOLS_METRICS_NAMESPACE", "Deskguard"),
        "service": env.get("POWERTOOLS_SERVICE_NAME", "deskguard"),
    }
    fragments = []
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or not set(data) <= set(FRAGMENT_SECTIONS) or not data:
            raise TemplateError(
                f"{path.name}: expected a CloudFormation fragment with only {FRAGMENT_SECTIONS}"
            )
        fragments.append((path.name, _substitute(data, tokens)))
    return fragments


# `Fn::Sub` variables the generated ops fragments (infra/security_ops.py) use, and the log group
# placeholder that stands for every function's log group (security events are logged by the API,
# the authorizers and the scanner alike, each in its own group).
API_LOG_GROUP_VARIABLE = "${ApiLogGroupName}"


def function_log_groups(app: Chalice, stage: str) -> list[str]:
    """Logical ids of the functions' log groups (Chalice creates them when the stage sets a
    retention), the API handler's first; empty when the stage sets none."""
    if not stages.stage_option(stage, "log_retention_in_days", None):
        return []
    groups: list[str] = []
    for name in app_functions(app):
        if name == API_HANDLER:
            groups.insert(0, "ApiHandlerLogGroup")
        else:
            groups.append(f"{function_logical_id(name)}LogGroup")
    return groups


def _fragment_variables(stage: str, api_log_group: str) -> dict[str, str]:
    return {
        "${Stage}": stage,
        "${Region}": "${AWS::Region}",
        "${ApiLogGroupName}": api_log_group,
        "${AlarmTopicArn}": "${AlarmTopic}",  # Ref of an SNS topic is its ARN
    }


def _replace(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str):
        for variable, replacement in variables.items():
            value = value.replace(variable, replacement)
        return value
    if isinstance(value, list):
        return [_replace(item, variables) for item in value]
    if isinstance(value, dict):
        return {key: _replace(item, variables) for key, item in value.items()}
    return value


def wire_fragment(fragment: dict[str, Any], stage: str, log_groups: list[str]) -> dict[str, Any]:
    """Resolve a generated fragment's variables against this stack.

    A metric filter on `${ApiLogGroupName}` is created once per function log group (same metric,
    so the alarm sees events from every function: malware from the scanner, authorizer denials
    from the authorizers); a query definition searches all of them.
    """
    placeholder = {"Fn::Sub": API_LOG_GROUP_VARIABLE}
    api_group = f"${{{log_groups[0]}}}" if log_groups else "/aws/lambda/${APIHandler}"
    resources: dict[str, Any] = {}
    for logical_id, resource in fragment.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Logs::MetricFilter" and (
            properties.get("LogGroupName") == placeholder and log_groups
        ):
            for index, group in enumerate(log_groups):
                clone = copy.deepcopy(resource)
                clone["Properties"]["LogGroupName"] = {"Ref": group}
                suffix = "" if index == 0 else group.removesuffix("LogGroup")
                resources[logical_id + suffix] = clone
            continue
        if resource.get("Type") == "AWS::Logs::QueryDefinition" and (
            properties.get("LogGroupNames") == [placeholder] and log_groups
        ):
            searched = copy.deepcopy(resource)
            searched["Properties"]["LogGroupNames"] = [{"Ref": group} for group in log_groups]
            resources[logical_id] = searched
            continue
        resources[logical_id] = resource
    wired = {**fragment, "Resources": resources} if "Resources" in fragment else dict(fragment)
    wired = _replace(wired, _fragment_variables(stage, api_group))
    return wired if isinstance(wired, dict) else {}
