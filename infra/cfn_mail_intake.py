"""Inbound mail's wiring in the merge template: SES's receipt rule set (every recipient under
`*.<MAIL_DOMAIN>`: scan, store the raw message in the inbound-mail bucket under `inbound/`)
and the EventBridge rule that invokes `ingest_mail` for each stored message.

SES's receipt rule set must be made the account's active one once (`aws ses
set-active-receipt-rule-set`), outside the stack: an account has one active set per region.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice

from chalicelib.core.settings import Settings
from infra.cfn_common import invoke_permission
from infra.resources import MAIL_INTAKE_FUNCTION, bucket, function_logical_id

RULE_SET = "InboundMailRuleSet"
RECEIPT_RULE = "InboundMailReceiptRule"


def receipt_rules(settings: Settings) -> dict[str, Any]:
    """The receipt rule set and its one rule: spam and virus scanning on, TLS required, the
    message stored under `inbound/` (the bucket policy lets SES write only there)."""
    inbound = bucket("inbound_mail").logical_id
    return {
        RULE_SET: {
            "Type": "AWS::SES::ReceiptRuleSet",
            "Properties": {"RuleSetName": f"{settings.table_prefix}-inbound"},
        },
        RECEIPT_RULE: {
            "Type": "AWS::SES::ReceiptRule",
            "DependsOn": [f"{inbound}Policy"],
            "Properties": {
                "RuleSetName": {"Ref": RULE_SET},
                "Rule": {
                    "Name": f"{settings.table_prefix}-store",
                    "Enabled": True,
                    "ScanEnabled": True,
                    "TlsPolicy": "Require",
                    # Every organization's subdomain, and the List-Unsubscribe mailbox.
                    "Recipients": [
                        f".{settings.mail_domain}",
                        f"unsubscribe@{settings.mail_domain}",
                    ],
                    "Actions": [
                        {
                            "S3Action": {
                                "BucketName": {"Ref": inbound},
                                "ObjectKeyPrefix": "inbound/",
                            }
                        }
                    ],
                },
            },
        },
    }


def mail_rule(settings: Settings, target_arn: Any) -> dict[str, Any]:
    """An object created in this stage's inbound-mail bucket -> `target_arn`."""
    return {
        "Description": "Stored inbound mail -> ticket or comment",
        "EventPattern": {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {
                "bucket": {"name": [settings.inbound_mail_bucket]},
                "object": {"key": [{"prefix": "inbound/"}]},
            },
        },
        "Targets": [{"Id": "ingest-mail", "Arn": target_arn}],
    }


def mail_intake_wiring(app: Chalice, settings: Settings) -> dict[str, Any]:
    """The receipt rules, and the EventBridge rule invoking the function (when the app has it)."""
    if MAIL_INTAKE_FUNCTION not in {f.name for f in app.pure_lambda_functions}:
        return {}
    function = function_logical_id(MAIL_INTAKE_FUNCTION)
    return {
        **receipt_rules(settings),
        "InboundMailStoredRule": {
            "Type": "AWS::Events::Rule",
            "Properties": mail_rule(settings, {"Fn::GetAtt": [function, "Arn"]}),
        },
        "InboundMailInvokePermission": invoke_permission(
            function, "events.amazonaws.com", {"Fn::GetAtt": ["InboundMailStoredRule", "Arn"]}
        ),
    }
