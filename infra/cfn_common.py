"""What every CloudFormation builder of the merge template shares: the template's error and
small constructors (`Fn::Sub`, deletion policies, Lambda invoke permissions)."""

from __future__ import annotations

from typing import Any


class TemplateError(ValueError):
    """The stage or a fragment cannot produce a valid template."""


def sub(expression: str) -> dict[str, str]:
    """`Fn::Sub` of `expression`."""
    return {"Fn::Sub": expression}


def retain(resource: dict[str, Any], production: bool) -> dict[str, Any]:
    """`resource` kept on stack deletion and replacement when `production`, else deleted."""
    policy = "Retain" if production else "Delete"
    resource["DeletionPolicy"] = policy
    resource["UpdateReplacePolicy"] = policy
    return resource


def invoke_permission(function: str, principal: str, source_arn: dict[str, Any]) -> dict[str, Any]:
    """`principal` (a service) may invoke `function` from `source_arn`."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "FunctionName": {"Fn::GetAtt": [function, "Arn"]},
            "Action": "lambda:InvokeFunction",
            "Principal": principal,
            "SourceArn": source_arn,
        },
    }
