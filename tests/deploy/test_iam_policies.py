"""The per-function IAM policies: present for every function, current, least-privilege, and
granting every AWS call the functions make in the test suite
(recorded by tests/support/aws_calls.py).
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest

from chalicelib.core.settings import get_settings
from infra import policies
from infra.resources import (
    BUCKETS,
    FUNCTION_POLICIES,
    POLICY_FILES,
    app_functions,
    load_app,
    table_specs,
)
from infra.stages import read_config
from infra.template import build_template
from tests.support.aws_calls import ACCOUNT, RECORDED, Call

REGION = "us-east-1"


def _policy(role: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((policies.POLICY_DIR / POLICY_FILES[role]).read_text())
    return document


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_function_runs_under_its_own_policy_file() -> None:
    config = read_config()
    assert config["autogen_policy"] is False
    functions = app_functions(load_app())
    assert "api_handler" in functions and "deskguard_authorizer" in functions
    for name in functions:
        assert name in FUNCTION_POLICIES, f"new function {name}: add it to infra.resources"
        entry = config["lambda_functions"].get(name, {})
        assert entry.get("iam_policy_file") == POLICY_FILES[FUNCTION_POLICIES[name]], name
    for stage, stage_cfg in config["stages"].items():
        assert "autogen_policy" not in stage_cfg, stage
        assert "iam_policy_file" not in stage_cfg, stage
        assert "lambda_functions" not in stage_cfg or all(
            "iam_policy_file" not in f for f in stage_cfg["lambda_functions"].values()
        ), stage


@pytest.mark.parametrize("role", sorted(POLICY_FILES))
def test_no_wildcard_actions_and_no_wildcard_resources(role: str) -> None:
    document = _policy(role)
    assert document["Version"] == "2012-10-17"
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & set(statement)
        actions = _as_list(statement["Action"])
        for action in actions:
            assert "*" not in action and re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action), action
        for resource in _as_list(statement["Resource"]):
            text = json.dumps(resource)
            if resource == "*":
                # Only where AWS has no resource-level permissions (documented in infra.policies).
                assert set(actions) <= policies.WILDCARD_RESOURCE_ACTIONS, statement["Sid"]
            else:
                assert '"*"' not in text and "arn:*" not in text, text


def test_policies_only_reference_resources_of_the_stack() -> None:
    resources = set(build_template("dev")["Resources"])
    for role in POLICY_FILES:
        text = json.dumps(_policy(role))
        referenced = set(re.findall(r"\$\{([A-Za-z0-9]+)(?:\.Arn)?\}", text))
        referenced |= set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text))
        assert referenced <= resources, (role, referenced - resources)


def _actions(role: str) -> set[str]:
    return {a for s in _policy(role)["Statement"] for a in _as_list(s["Action"])}


def test_least_privilege_by_role() -> None:
    # Nobody scans a table or manages tables, keys, buckets or secrets. KMS: decrypting (the
    # signing-key secret), and for the audit trail signing (the chainer only) and verifying (the
    # API's verify).
    kms_use = {"api": {"kms:Verify"}, "audit_chainer": {"kms:Sign"}}
    for role in POLICY_FILES:
        actions = _actions(role)
        assert not {a for a in actions if a.startswith(("dynamodb:Scan", "dynamodb:Create"))}
        allowed_kms = kms_use.get(role, set())
        assert not {
            a
            for a in actions
            if re.match(r"(iam|kms:(?!Decrypt)|s3:(Put|Delete)Bucket)", a) and a not in allowed_kms
        }
    signers = [role for role in POLICY_FILES if "kms:Sign" in _actions(role)]
    assert signers == ["audit_chainer"]
    # The authorizer reads keys and the denylist and never touches S3. Its writes are an API
    # token's last-use time (UpdateItem on the identity table, limited by IAM to that attribute)
    # and the per-IP counter of forged credentials (UpdateItem on the counter table).
    authorizer = _actions("authorizer")
    assert not {a for a in authorizer if a.startswith("s3:")}
    data_actions = {a for a in authorizer if a.startswith(("dynamodb:", "secretsmanager:"))}
    assert data_actions
    for statement in _policy("authorizer")["Statement"]:
        data = [a for a in statement["Action"] if a.startswith(("dynamodb:", "secretsmanager:"))]
        writes = {a for a in data if re.search(r"(Put|Update|Delete|Write)", a)}
        if not writes:
            continue
        assert writes == set(statement["Action"]) == {"dynamodb:UpdateItem"}, statement["Sid"]
        allowed = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"]
        if statement["Resource"] == [{"Fn::Sub": "${RatelimitTable.Arn}"}]:
            assert set(allowed) == {"pk", "hits", "expires_at"}
            continue
        assert statement["Resource"] == [{"Fn::Sub": "${IdentityTable.Arn}"}]
        assert set(allowed) == {"pk", "sk", "last_used_at"}
    # The audit trail is append-only for the API: no update or delete on the audit table.
    audit_arn = "${AuditTable.Arn}"
    for statement in _policy("api")["Statement"]:
        if audit_arn in json.dumps(statement["Resource"]):
            assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem"} & set(statement["Action"])
    # The definitions updater only touches the definitions prefix.
    text = json.dumps(_policy("definitions"))
    assert "DefinitionsBucket" in text
    assert not re.search(r"(Uploads|Quarantine|AuditArchive)Bucket|Table", text)


# --- The recorded calls -----------------------------------------------------------------------


def _arns() -> dict[str, str]:
    """`${Logical.Arn}` / `Ref` values of the stack, for the test stage's names."""
    settings = get_settings()
    values = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
    values["AWS::StackName"] = "deskguard-test"
    for spec in table_specs():
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{spec.physical_name(settings)}"
        values[f"{spec.logical_id}.Arn"] = arn
    for bucket in BUCKETS:
        values[f"{bucket.logical_id}.Arn"] = f"arn:aws:s3:::{bucket.physical_name(settings)}"
    values["SigningKeySecret"] = (
        f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{settings.table_prefix}-signing-keys-*"
    )
    values["DataKey.Arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    values["AuditSigningKey.Arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/*"
    bus = settings.scan_events_bus or f"{settings.table_prefix}-events"
    values["ScanEventsBus.Arn"] = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}"
    values["ScannerDeadLetterQueue.Arn"] = (
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{settings.table_prefix}-scanner-dlq"
    )
    values["NotificationsQueue.Arn"] = (
        f"arn:aws:sqs:{REGION}:{ACCOUNT}:{settings.notifications_queue}"
    )
    return values


def _resolve(resource: Any, values: dict[str, str]) -> str:
    if resource == "*":
        return "*"
    if "Ref" in resource:
        return values[resource["Ref"]]
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], resource["Fn::Sub"])


def granted(call: Call) -> bool:
    """Whether the function's policy allows the call's action on its resource."""
    role = FUNCTION_POLICIES.get(call.function)
    if role is None:
        return False
    values = _arns()
    for statement in _policy(role)["Statement"]:
        if call.action not in _as_list(statement["Action"]):
            continue
        limited = statement.get("Condition", {}).get("ForAllValues:StringEquals", {})
        if "dynamodb:Attributes" in limited and not (
            call.attributes and set(call.attributes) <= set(limited["dynamodb:Attributes"])
        ):
            continue
        for resource in _as_list(statement["Resource"]):
            if fnmatch.fnmatchcase(call.resource, _resolve(resource, values)):
                return True
    return False


def test_the_check_refuses_what_a_policy_does_not_grant() -> None:
    identity = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{get_settings().table_name('identity')}"
    assert granted(Call("api_handler", "dynamodb:GetItem", identity, "GetItem"))
    assert not granted(Call("deskguard_authorizer", "dynamodb:PutItem", identity, "PutItem"))
    assert not granted(Call("api_handler", "dynamodb:Scan", identity, "Scan"))
    other = identity.replace("deskguard-test-", "deskguard-other-")
    assert not granted(Call("api_handler", "dynamodb:GetItem", other, "GetItem"))
    assert not granted(Call("unknown_function", "dynamodb:GetItem", identity, "GetItem"))
    # The authorizer may set an API token's last use, and nothing else on the item.
    touch = ("deskguard_authorizer", "dynamodb:UpdateItem", identity, "UpdateItem")
    assert granted(Call(*touch, ("last_used_at", "pk", "sk")))
    assert not granted(Call(*touch, ("last_used_at", "pk", "role", "sk")))
    assert not granted(Call(*touch))


@pytest.mark.after_all_tests
def test_every_recorded_call_is_granted(make_org: Any, client: Any) -> None:
    """Runs last: every call any test made through a function must be in its policy."""
    org = make_org()
    assert client.get("/api/me", token=org.agent.token).status == 200
    wrong = org.agent.login_body(password="not-the-password")  # pragma: allowlist secret
    assert client.post("/api/auth/login", json=wrong).status in {401, 429}
    identity = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{get_settings().table_name('identity')}"
    assert Call("api_handler", "dynamodb:GetItem", identity, "GetItem") in RECORDED  # login
    denied = sorted(
        (c.function, c.action, c.resource, c.operation) for c in RECORDED if not granted(c)
    )
    assert not denied, "calls the functions' IAM policies do not grant:\n" + "\n".join(
        map(str, denied)
    )


def test_calls_map_to_the_iam_actions_aws_checks() -> None:
    from tests.support.aws_calls import iam_requirements

    uploads = get_settings().uploads_bucket
    quarantine = get_settings().quarantine_bucket
    copy = iam_requirements(
        "s3",
        "CopyObject",
        {
            "Bucket": quarantine,
            "Key": "infected/k",
            "CopySource": {"Bucket": uploads, "Key": "k", "VersionId": "v1"},
            "TaggingDirective": "REPLACE",
        },
        REGION,
    )
    assert sorted(copy) == sorted(
        [
            ("s3:PutObject", f"arn:aws:s3:::{quarantine}/infected/k"),
            ("s3:PutObjectTagging", f"arn:aws:s3:::{quarantine}/infected/k"),
            ("s3:GetObjectVersion", f"arn:aws:s3:::{uploads}/k"),
        ]
    )
    tagging = iam_requirements(
        "s3", "PutObjectTagging", {"Bucket": uploads, "Key": "k", "VersionId": "v"}, REGION
    )
    assert tagging == [("s3:PutObjectVersionTagging", f"arn:aws:s3:::{uploads}/k")]
    for function in ("scan_attachment", "retry_attachment_scans"):
        for action, resource in copy + tagging:
            assert granted(Call(function, action, resource, "x")), (function, action)
    # The API handler can neither move files to quarantine nor tag scan results.
    assert not granted(Call("api_handler", *tagging[0], "PutObjectTagging"))
    assert not granted(Call("api_handler", *copy[0], "CopyObject"))
    table = get_settings().table_name("identity")
    transact = iam_requirements(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": table}},
                {"ConditionCheck": {"TableName": table}},
            ]
        },
        REGION,
    )
    assert [action for action, _ in transact] == ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]


def test_sqs_batches_need_the_single_action_on_the_named_queue() -> None:
    from tests.support.aws_calls import iam_requirements

    queue = get_settings().notifications_queue
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{queue}"
    batch = iam_requirements("sqs", "SendMessageBatch", {"QueueUrl": url, "Entries": []}, REGION)
    assert batch == [("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue}")]
    assert granted(Call("route_notifications", *batch[0], "SendMessageBatch"))
    # Only the router queues notices; the API handler cannot.
    assert not granted(Call("api_handler", *batch[0], "SendMessageBatch"))
    other = iam_requirements("sqs", "GetQueueUrl", {"QueueName": "someone-elses"}, REGION)
    assert not granted(Call("route_notifications", *other[0], "GetQueueUrl"))
