"""The Chalice side of a stage deployed with plain `chalice deploy --stage <stage>`.

`make infra STAGE=<stage>` runs this after the data stack (`infra.data_stack`) is up. It writes

- `.chalice/policies-<stage>/policy-<role>.json`: the least-privilege policies of
  `infra.policies`, whose resources are CloudFormation expressions over the stack's logical
  ids (`${IdentityTable.Arn}`, `{"Ref": "SigningKeySecret"}`), resolved to the data stack's
  outputs (plain ARNs, which is what `chalice deploy` sends to IAM), and the log groups named
  after Chalice's function names;
- the stage's `lambda_functions` block in `.chalice/config.json`: each function's resolved policy
  file, and for the scanner functions their memory, timeout, reserved concurrency and the
  environment that starts ClamAV from its layer.

The stage's environment variables already name the data resources (tables by prefix, buckets,
secret, issuer, audit key alias); the data stack is built from those same names. What Chalice's
config cannot say (the ClamAV layer, ephemeral storage, the on-failure destination, the upload
and audit-stream triggers, Gateway Responses, the REQUEST authorizer) is `infra.post_deploy`'s.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from infra import data_stack, stages
from infra.cfn_scanner import SCANNER_ENVIRONMENT
from infra.errors import OperatorError
from infra.policies import LOGS, build_policies
from infra.resources import FUNCTION_POLICIES, POLICY_FILES, SCANNER_FUNCTIONS

_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


class UnresolvedReference(OperatorError, ValueError):
    """A policy names a resource the data stack does not output."""


def policy_file(stage: str, role: str) -> str:
    """The stage's resolved policy file (relative to `.chalice/`, where Chalice looks; not a
    `.chalice/policy-*.json`, which `make generate` owns)."""
    return f"{_policy_dir(stage)}/{POLICY_FILES[role]}"


def _policy_dir(stage: str) -> str:
    return f"policies-{stage}"


def _account_context(outputs: dict[str, str], stage: str) -> dict[str, str]:
    """`AWS::Partition`, `AWS::Region`, `AWS::AccountId` (from the data key's ARN) and
    `AWS::StackName` as the policies use it: the prefix of the functions' names."""
    arn = outputs.get("DataKeyArn", "")
    parts = arn.split(":")
    if len(parts) < 6:
        raise UnresolvedReference(f"data stack of {stage} has no DataKeyArn output")
    return {
        "AWS::Partition": parts[1],
        "AWS::Region": parts[3],
        "AWS::AccountId": parts[4],
        "AWS::StackName": data_stack.function_name(stage, "api_handler"),
    }


def resolve(value: Any, outputs: dict[str, str], context: dict[str, str]) -> Any:
    """`value` with every `Fn::Sub` and `Ref` replaced by the data stack's outputs."""
    if isinstance(value, list):
        return [resolve(item, outputs, context) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::Sub"}:
        return _VARIABLE.sub(lambda m: _lookup(m.group(1), outputs, context), value["Fn::Sub"])
    if set(value) == {"Ref"}:
        return _lookup(f"{value['Ref']}.Arn", outputs, context)
    return {key: resolve(item, outputs, context) for key, item in value.items()}


def _lookup(name: str, outputs: dict[str, str], context: dict[str, str]) -> str:
    if name in context:
        return context[name]
    key = name.replace(".", "")
    if key not in outputs:
        raise UnresolvedReference(f"the data stack has no output {key} (for ${{{name}}})")
    return outputs[key]


def resolved_policies(stage: str, outputs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Policy documents by the stage's file name, with plain ARNs."""
    context = _account_context(outputs, stage)
    by_file = {file: role for role, file in POLICY_FILES.items()}
    documents = {}
    for file, document in build_policies().items():
        role = by_file[file]
        resolved = resolve(document, outputs, context)
        if role == "api":
            # The API handler is `<app>-<stage>` itself, outside the `<app>-<stage>-*` pattern.
            logs = next(s for s in resolved["Statement"] if s.get("Sid") == LOGS["Sid"])
            group = f"/aws/lambda/{context['AWS::StackName']}"
            logs["Resource"].append(
                f"arn:{context['AWS::Partition']}:logs:{context['AWS::Region']}:"
                f"{context['AWS::AccountId']}:log-group:{group}:*"
            )
        documents[policy_file(stage, role)] = resolved
    return documents


def lambda_functions(stage: str) -> dict[str, dict[str, Any]]:
    """The stage's per-function Chalice settings."""
    functions: dict[str, dict[str, Any]] = {}
    for name, role in FUNCTION_POLICIES.items():
        entry: dict[str, Any] = {"iam_policy_file": policy_file(stage, role)}
        scanner = SCANNER_FUNCTIONS.get(name)
        if scanner:
            entry.update(
                {
                    "lambda_memory_size": scanner.memory_mb,
                    "lambda_timeout": scanner.timeout_seconds,
                    "reserved_concurrency": scanner.reserved_concurrency,
                    "environment_variables": dict(SCANNER_ENVIRONMENT),
                }
            )
        functions[name] = entry
    return functions


def configure(
    stage: str, outputs: dict[str, str], config_path: Path | None = None
) -> dict[str, Any]:
    """Write the stage's resolved policy files and its `lambda_functions` block; returns the
    written file names and whether the config changed."""
    config_path = config_path or stages.CONFIG_PATH
    config = stages.read_config(config_path)
    if stage not in config["stages"]:
        raise stages.UnknownStage(f"Stage {stage} is not in .chalice/config.json.")
    written = []
    for file, document in resolved_policies(stage, outputs).items():
        path = config_path.parent / file
        path.parent.mkdir(exist_ok=True)
        text = json.dumps(document, indent=2) + "\n"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(file)
    block = config["stages"][stage]
    wanted = lambda_functions(stage)
    changed = block.get("lambda_functions") != wanted
    if changed:
        block["lambda_functions"] = wanted
        config_path.write_text(json.dumps(config, indent=2) + "\n")
    return {"policy_files": written, "config_changed": changed}


def uses_chalice_deploy(stage: str, config: dict[str, Any] | None = None) -> bool:
    """Whether `stage` is configured for `chalice deploy` (resolved policy files)."""
    config = config or stages.read_config()
    functions = config["stages"].get(stage, {}).get("lambda_functions", {})
    return any(
        str(entry.get("iam_policy_file", "")).startswith(f"{_policy_dir(stage)}/")
        for entry in functions.values()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    problem = stages.public_settings_problem(args.stage)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    outputs = data_stack.outputs(args.stage)
    if "SigningKeySecretArn" not in outputs:
        # moto's CloudFormation does not create secrets (AWS always outputs it): ask Secrets
        # Manager for the stage's secret by name.
        import boto3

        name = stages.stage_environment(args.stage)["JWT_SIGNING_KEY_SECRET_ID"]
        secret = boto3.client("secretsmanager").describe_secret(SecretId=name)
        outputs["SigningKeySecretArn"] = secret["ARN"]
    result = configure(args.stage, outputs)
    for file in result["policy_files"]:
        print(f"wrote .chalice/{file}")
    state = "updated" if result["config_changed"] else "unchanged"
    print(f".chalice/config.json stage {args.stage}: lambda_functions {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
