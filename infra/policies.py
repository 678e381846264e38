"""Least-privilege IAM policies, one per function role, generated from the registries.

Written to `.chalice/policy-<role>.json` by `make generate` and referenced per function in
`.chalice/config.json` (`autogen_policy` is false). Resources are CloudFormation expressions
(`Fn::Sub` over the logical ids of `infra.resources`), so one file serves every stage: `chalice
package` copies the document into the stack, where each stage's own tables and buckets resolve.
Deployed stages therefore go through CloudFormation (`make deploy`), never plain `chalice deploy`.

Rules (checked by tests/deploy/test_iam_policies.py): no `*` in any action; `Resource: "*"` only
for the actions in `WILDCARD_RESOURCE_ACTIONS`, which AWS defines without resource types.

Why one module of this size: one function per role, side by side, so a reviewer compares what
each role may do in one place; the statements are data, not logic.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chalicelib.identity.models import ApiTokenModel
from chalicelib.ratelimit.models import RateLimitItem
from infra.resources import (
    AUDIT_SIGNING_KEY,
    NOTIFICATIONS_QUEUE,
    POLICY_FILES,
    SCAN_EVENTS_BUS,
    SCANNER_DLQ,
    TableSpec,
    bucket,
    table_specs,
)

POLICY_DIR = Path(__file__).resolve().parent.parent / ".chalice"

# Actions with no resource-level permissions: IAM only accepts `"Resource": "*"` for them.
WILDCARD_RESOURCE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",  # X-Ray has no resource types for segment upload
        "xray:PutTelemetryRecords",
    }
)

# Item-level DynamoDB actions (no Scan, no table management). TransactWriteItems and
# TransactGetItems have no IAM action of their own: IAM checks the item actions inside them.
ITEM_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
ITEM_WRITE = (
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
)
# The audit trail is append-only for the application: records are put with
# attribute_not_exists and never updated or deleted.
APPEND_ONLY = ("dynamodb:PutItem", "dynamodb:ConditionCheckItem")
API_TABLE_ACTIONS: dict[str, tuple[str, ...]] = {"audit": ITEM_READ + APPEND_ONLY}
# The authorizer reads a credential's state in one BatchGetItem over the identity and revocations
# tables (`revocation.read_credential_state`), nothing else. Its only write: an API token's
# last-use time (`api_tokens._touch_last_used`), one UpdateItem that IAM limits to that attribute
# (plus the key it addresses).
AUTHORIZER_TABLES = ("identity", "revocations")
AUTHORIZER_TABLE_ACTIONS = ("dynamodb:BatchGetItem",)
AUTHORIZER_LAST_USE_TABLE = "identity"
# Forged credentials are counted per source IP (containment): one UpdateItem on a counter.
AUTHORIZER_COUNTER_TABLE = "ratelimit"
# The scanner updates attachment records (and audits the change).
SCANNER_TABLES: dict[str, tuple[str, ...]] = {
    "attachments": (
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    ),
    "audit": ("dynamodb:GetItem", "dynamodb:Query", *APPEND_ONLY),
    # A final verdict's `attachment.scanned` outbox item, written in the verdict's transaction.
    "webhooks": ("dynamodb:PutItem",),
}
DEFINITIONS_PREFIX = "clamav/"
AUDIT_ARCHIVE_PREFIX = "audit/"
# The audit chainer: reads the stream (the event source mapping polls with the function's role),
# reads records and the tip, chains records (UpdateItem) and moves the tip (PutItem/UpdateItem).
# It is the only role that may sign checkpoints and write the archive.
AUDIT_CHAINER_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:ConditionCheckItem",
)
STREAM_ACTIONS = (
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
)

LOGS = {
    "Sid": "OwnLogStreams",
    "Effect": "Allow",
    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    # Log groups are created by the stack (with retention), so no logs:CreateLogGroup. CFN
    # names each function `<stack>-<LogicalId>-<suffix>`.
    "Resource": [
        {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
            ":log-group:/aws/lambda/${AWS::StackName}-*:*"
        }
    ],
}
XRAY = {
    "Sid": "Tracing",
    "Effect": "Allow",
    "Action": sorted(WILDCARD_RESOURCE_ACTIONS),
    "Resource": "*",
}


def sub(expression: str) -> dict[str, str]:
    return {"Fn::Sub": expression}


def table_resources(spec: TableSpec, with_indexes: bool = True) -> list[dict[str, str]]:
    """The table's ARN and, for Query, each of its indexes' ARNs."""
    resources = [sub(f"${{{spec.logical_id}.Arn}}")]
    if with_indexes:
        resources += [
            sub(f"${{{spec.logical_id}.Arn}}/index/{index.name}") for index in spec.indexes()
        ]
    return resources


def _table_statement(sid: str, actions: tuple[str, ...], spec: TableSpec) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(set(actions)),
        "Resource": table_resources(spec, with_indexes="dynamodb:Query" in actions),
    }


def _objects(kind: str, prefix: str = "") -> dict[str, str]:
    return sub(f"${{{bucket(kind).logical_id}.Arn}}/{prefix}*")


def _bucket(kind: str) -> dict[str, str]:
    return sub(f"${{{bucket(kind).logical_id}.Arn}}")


def _signing_keys(sid: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": sid,
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [{"Ref": "SigningKeySecret"}],
        },
        {
            "Sid": f"{sid}Decrypt",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [sub("${DataKey.Arn}")],
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": sub("secretsmanager.${AWS::Region}.amazonaws.com")
                }
            },
        },
    ]


def api_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for spec in table_specs():
        actions = API_TABLE_ACTIONS.get(spec.short_name, ITEM_READ + ITEM_WRITE)
        statements.append(_table_statement(f"Table{spec.logical_id}", actions, spec))
    statements += [
        {
            # Presigned POST (upload) and GET (download, only when tagged CLEAN: the bucket
            # policy denies the rest) are signed with this role's credentials.
            "Sid": "Attachments",
            "Effect": "Allow",
            "Action": [
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:PutObjectTagging",
            ],
            "Resource": [_objects("uploads")],
        },
        {
            "Sid": "DeleteQuarantined",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion"],
            "Resource": [_objects("quarantine")],
        },
        {
            # Deleting an attachment removes every version of its one key.
            "Sid": "ListAttachmentVersions",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": [_bucket("uploads"), _bucket("quarantine")],
        },
        {
            # The quarantine review: a released message is read back into intake, a discarded
            # one is deleted version by version. SES stores under inbound/, the CLI under
            # quarantine/; the API never puts here.
            "Sid": "ReviewQuarantinedMail",
            "Effect": "Allow",
            "Action": ["s3:DeleteObjectVersion", "s3:GetObject"],
            "Resource": [
                _objects("inbound_mail", "inbound/"),
                _objects("inbound_mail", "quarantine/"),
            ],
        },
        {
            "Sid": "ListQuarantinedMailVersions",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": [_bucket("inbound_mail")],
        },
    ]
    # Invitations and password resets (chalicelib/mail).
    statements.append(_send_mail())
    statements += _signing_keys("SigningKeys")
    statements += _audit_archive_read()
    return statements


def _send_mail() -> dict[str, Any]:
    """Sending mail through SES. The sender identity is a per-stage setting (MAIL_FROM) verified
    in SES outside the stack: any identity of this account and region, sending only."""
    return {
        "Sid": "SendMail",
        "Effect": "Allow",
        "Action": ["ses:SendEmail"],
        "Resource": [
            sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"),
            sub("arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:configuration-set/*"),
        ],
    }


def _audit_key() -> dict[str, str]:
    return sub(f"${{{AUDIT_SIGNING_KEY}.Arn}}")


def _audit_archive_read() -> list[dict[str, Any]]:
    """What `GET /api/admin/audit/verify` needs: the archive's objects and the public key."""
    return [
        {
            "Sid": "ReadAuditArchive",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": [_objects("audit_archive", AUDIT_ARCHIVE_PREFIX)],
        },
        {
            "Sid": "ListAuditArchive",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": [_bucket("audit_archive")],
        },
        {
            "Sid": "AuditVerifyKey",
            "Effect": "Allow",
            "Action": ["kms:Verify"],
            "Resource": [_audit_key()],
        },
    ]


def audit_chainer_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for spec in table_specs():
        if spec.short_name == "audit":
            statements.append(
                _table_statement(f"Chain{spec.logical_id}", AUDIT_CHAINER_TABLE_ACTIONS, spec)
            )
            statements.append(
                {
                    "Sid": "ReadAuditStream",
                    "Effect": "Allow",
                    "Action": list(STREAM_ACTIONS),
                    "Resource": [sub(f"${{{spec.logical_id}.Arn}}/stream/*")],
                }
            )
    statements += [
        {
            # Write-once objects: PutObjectRetention is what a put with lock headers needs.
            "Sid": "WriteAuditArchive",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectRetention"],
            "Resource": [_objects("audit_archive", AUDIT_ARCHIVE_PREFIX)],
        },
        {
            # The key policy also names only this role for Sign (infra.cfn_audit).
            "Sid": "SignCheckpoints",
            "Effect": "Allow",
            "Action": ["kms:Sign"],
            "Resource": [_audit_key()],
        },
    ]
    return statements


# The webhook delivery functions: read endpoints and the due queue, write deliveries and move
# them along (claims, attempts), take fanned-out events off the queue; read the table's stream.
# Nothing else: a delivery needs no other table, and its HTTP calls need no AWS permission.
WEBHOOK_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)


def webhooks_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for spec in table_specs():
        if spec.short_name == "webhooks":
            statements.append(
                _table_statement(f"Deliver{spec.logical_id}", WEBHOOK_TABLE_ACTIONS, spec)
            )
            statements.append(
                {
                    "Sid": "ReadWebhooksStream",
                    "Effect": "Allow",
                    "Action": list(STREAM_ACTIONS),
                    "Resource": [sub(f"${{{spec.logical_id}.Arn}}/stream/*")],
                }
            )
    return statements


# Ticket notifications. The router reads the stream's new events, the users it notifies (one
# organization's partition; list cursors are signed, hence the keyring) and the ticket, and
# queues notices. The sender reads the recipient and the ticket (and comment) again, receives
# and deletes its notices (the event source mapping polls with its role) and sends the mail.
NOTIFICATION_READS: dict[str, tuple[str, ...]] = {
    "identity": ("dynamodb:GetItem", "dynamodb:Query"),
    "tickets": ("dynamodb:GetItem",),
}


# The sender reads the recipient, the organization's settings and the ticket (and comment) by
# key, and an agent's groups (one Query of the organization's partition) when the organization
# limits agents to their groups; it writes one send-once record per notice.
SENDER_READS: dict[str, tuple[str, ...]] = {
    "identity": ("dynamodb:GetItem",),
    "tickets": ("dynamodb:GetItem", "dynamodb:Query"),
    # The send-once records (Powertools idempotency: put, complete, delete on a failed send).
    "idempotency": (
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ),
}


def _notifications_queue(sid: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": [sub(f"${{{NOTIFICATIONS_QUEUE}.Arn}}")],
    }


def notifications_router_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for spec in table_specs():
        if spec.short_name == "webhooks":
            statements.append(_table_statement("ReadEvents", ("dynamodb:GetItem",), spec))
            statements.append(
                {
                    "Sid": "ReadWebhooksStream",
                    "Effect": "Allow",
                    "Action": list(STREAM_ACTIONS),
                    "Resource": [sub(f"${{{spec.logical_id}.Arn}}/stream/*")],
                }
            )
        elif spec.short_name in NOTIFICATION_READS:
            statements.append(
                _table_statement(
                    f"Read{spec.logical_id}", NOTIFICATION_READS[spec.short_name], spec
                )
            )
    statements.append(_notifications_queue("QueueNotices", ["sqs:GetQueueUrl", "sqs:SendMessage"]))
    statements += _signing_keys("SigningKeys")
    return statements


def notifications_sender_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        _table_statement(f"Read{spec.logical_id}", SENDER_READS[spec.short_name], spec)
        for spec in table_specs()
        if spec.short_name in SENDER_READS
    ]
    statements.append(
        _notifications_queue(
            "ReceiveNotices",
            [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
        )
    )
    # The notification mail (chalicelib/mail), as the API's invitations.
    statements.append(_send_mail())
    # Reply addresses, Message-IDs and unsubscribe tokens are keyed with the service key.
    statements += _signing_keys("SigningKeys")
    return statements


# The SLA breach sweep: queries the tickets table's `by_sla_due` index, marks a breach on the
# ticket (UpdateItem) with its outbox event and audit record in one transaction. Nothing else.
SLA_SWEEP_TABLES: dict[str, tuple[str, ...]] = {
    "tickets": ("dynamodb:Query", "dynamodb:UpdateItem"),
    "webhooks": ("dynamodb:PutItem",),
    "audit": APPEND_ONLY,
}


def sla_policy() -> list[dict[str, Any]]:
    return [
        _table_statement(f"Sweep{spec.logical_id}", SLA_SWEEP_TABLES[spec.short_name], spec)
        for spec in table_specs()
        if spec.short_name in SLA_SWEEP_TABLES
    ]


# The inbound-mail function writes what a ticket or comment write does (tickets, identity for
# a new requester, audit appends, attachments, webhook outbox events), nothing on rate limits,
# revocations or idempotency records.
MAIL_INTAKE_TABLES = ("tickets", "identity", "audit", "attachments", "webhooks")


def mail_intake_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for spec in table_specs():
        if spec.short_name in MAIL_INTAKE_TABLES:
            actions = API_TABLE_ACTIONS.get(spec.short_name, ITEM_READ + ITEM_WRITE)
            statements.append(_table_statement(f"Intake{spec.logical_id}", actions, spec))
    statements += [
        {
            # The stored message; quarantined messages put by the CLI path land here too.
            "Sid": "ReadInboundMail",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [_objects("inbound_mail")],
        },
        {
            # Mail attachments enter the scan-on-put path like uploads (never read back here).
            "Sid": "PutMailAttachments",
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": [_objects("uploads")],
        },
    ]
    return statements


def token_use_attributes() -> list[str]:
    """The attributes the authorizer's last-use UpdateItem touches: the key and `last_used_at`."""
    keys = [
        attr.attr_name
        for attr in ApiTokenModel.get_attributes().values()
        if attr.is_hash_key or attr.is_range_key
    ]
    return sorted({*keys, ApiTokenModel.last_used_at.attr_name})


def counter_attributes() -> list[str]:
    """The attributes a rate-limit/containment counter update touches."""
    return sorted(attr.attr_name for attr in RateLimitItem.get_attributes().values())


def authorizer_policy() -> list[dict[str, Any]]:
    statements = _signing_keys("VerifyKeys")
    for spec in table_specs():
        if spec.short_name in AUTHORIZER_TABLES:
            statements.append(
                _table_statement(f"Read{spec.logical_id}", AUTHORIZER_TABLE_ACTIONS, spec)
            )
        if spec.short_name == AUTHORIZER_LAST_USE_TABLE:
            statements.append(
                {
                    "Sid": "RecordApiTokenUse",
                    "Effect": "Allow",
                    "Action": ["dynamodb:UpdateItem"],
                    "Resource": table_resources(spec, with_indexes=False),
                    # Fine-grained access control: an update naming any other attribute is
                    # denied, so the authorizer cannot change roles, hashes or status.
                    "Condition": {
                        "ForAllValues:StringEquals": {"dynamodb:Attributes": token_use_attributes()}
                    },
                }
            )
        if spec.short_name == AUTHORIZER_COUNTER_TABLE:
            statements.append(
                {
                    "Sid": "CountForgedCredentials",
                    "Effect": "Allow",
                    "Action": ["dynamodb:UpdateItem"],
                    "Resource": table_resources(spec, with_indexes=False),
                    "Condition": {
                        "ForAllValues:StringEquals": {"dynamodb:Attributes": counter_attributes()}
                    },
                }
            )
    return statements


def scanner_policy() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "ReadAndTagUploads",
            "Effect": "Allow",
            "Action": [
                "s3:DeleteObject",
                "s3:DeleteObjectVersion",
                "s3:GetObject",
                "s3:GetObjectTagging",
                "s3:GetObjectVersion",
                "s3:GetObjectVersionTagging",
                "s3:PutObjectTagging",
                "s3:PutObjectVersionTagging",
            ],
            "Resource": [_objects("uploads")],
        },
        {
            "Sid": "MoveToQuarantine",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:PutObjectTagging"],
            "Resource": [_objects("quarantine")],
        },
        {
            "Sid": "ReadDefinitions",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [_objects("definitions", DEFINITIONS_PREFIX)],
        },
        _list_definitions("ListDefinitions"),
        {
            # An object no attachment owns is removed with every version of its key.
            "Sid": "ListUploadVersions",
            "Effect": "Allow",
            "Action": ["s3:ListBucketVersions"],
            "Resource": [_bucket("uploads")],
        },
        {
            # Every final verdict is an `Attachment Scanned` event on the stack's own bus.
            "Sid": "PublishScanResults",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [sub(f"${{{SCAN_EVENTS_BUS}.Arn}}")],
        },
        _dead_letter("ScanFailuresToDeadLetterQueue"),
    ]
    for spec in table_specs():
        if spec.short_name in SCANNER_TABLES:
            actions = SCANNER_TABLES[spec.short_name]
            statements.append(_table_statement(f"Update{spec.logical_id}", actions, spec))
    return statements


def _list_definitions(sid: str) -> dict[str, Any]:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": [sub(f"${{{bucket('definitions').logical_id}.Arn}}")],
        "Condition": {"StringLike": {"s3:prefix": [f"{DEFINITIONS_PREFIX}*"]}},
    }


def _dead_letter(sid: str) -> dict[str, Any]:
    # Lambda sends a failed asynchronous invocation to the on-failure destination with the
    # function's own role.
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": ["sqs:SendMessage"],
        "Resource": [sub(f"${{{SCANNER_DLQ}.Arn}}")],
    }


def definitions_policy() -> list[dict[str, Any]]:
    return [
        _dead_letter("RefreshFailuresToDeadLetterQueue"),
        {
            "Sid": "WriteDefinitions",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": [_objects("definitions", DEFINITIONS_PREFIX)],
        },
        _list_definitions("ListDefinitions"),
    ]


BUILDERS = {
    "api": api_policy,
    "authorizer": authorizer_policy,
    "scanner": scanner_policy,
    "definitions": definitions_policy,
    "audit_chainer": audit_chainer_policy,
    "webhooks": webhooks_policy,
    "notifications_router": notifications_router_policy,
    "notifications_sender": notifications_sender_policy,
    "sla": sla_policy,
    "mail_intake": mail_intake_policy,
}


def build_policies() -> dict[str, dict[str, Any]]:
    """Policy documents by file name (`policy-api.json`, ...)."""
    documents = {}
    for role, builder in BUILDERS.items():
        documents[POLICY_FILES[role]] = {
            "Version": "2012-10-17",
            "Statement": [*builder(), LOGS, XRAY],
        }
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
