"""The CloudFormation resources Chalice does not create, generated from the code's registries.

`make template` (`python -m infra.template [--stage dev]`) writes the build artifact
`build/<stage>/merge-template.json`, merged into Chalice's own template by `chalice package
--merge-template` (`make package` writes it too). The files it reads that are generated (IAM
policies, observability fragments) are written by `make generate` only. What comes from where, and
which module builds it (this one assembles them and checks the stage):

- DynamoDB tables (`infra/cfn_tables.py`): `chalicelib.tables.table_models()` (keys, indexes,
  TTL attribute), with SSE-KMS (the stage's key), PITR, deletion protection on production
  stages, streams on `audit` and `webhooks`;
- S3 buckets and their policies (`infra/cfn_buckets.py`): `chalicelib.core.settings` names
  (uploads, quarantine, definitions, audit archive);
- Gateway Responses, the cookie (REQUEST) authorizer and the `RestAPI` overrides
  (`infra/cfn_api.py`): `chalicelib.core.gateway_responses` bodies + `chalicelib.core.headers`;
  `REQUEST_AUTHORIZERS`, applied when the app defines it;
- the data key and the signing-key secret (`infra/cfn_keys.py`): `JWT_SIGNING_KEY_SECRET_ID` of
  the stage;
- the scanner (`infra/cfn_scanner.py`): the upload trigger, the ClamAV layer, the scan-events
  bus, the dead-letter queue and the scanner functions' overrides;
- the audit chainer (`infra/cfn_audit.py`): the event source mapping from the audit table's
  stream (`chalicelib.audit.chainer.STREAM_FILTER`), the asymmetric KMS key that signs
  checkpoints (only the chainer's roles may `Sign`) and an alarm on the stream's iterator age;
- webhook delivery (`infra/cfn_webhooks.py`): the event source mapping from the webhooks
  table's stream (`chalicelib.webhooks.delivery.STREAM_FILTER`) and its lag alarm;
- ticket notifications (`infra/cfn_notifications.py`): the notifications queue with its
  dead-letter queue and alarm, the mapping from the webhooks table's stream to the router
  (`chalicelib.notifications.router.STREAM_FILTER`) with its lag alarm, and the queue -> sender
  mapping (partial batch failures);
- observability (`infra/cfn_observability.py`): the alarm topic and every
  `infra/observability/*.json` fragment (metric filters, alarms, dashboard).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chalice.app import Chalice

from chalicelib.core.settings import Settings
from infra import stages
from infra.cfn_api import rest_api_overrides
from infra.cfn_audit import audit_chainer_wiring
from infra.cfn_buckets import bucket_policy, bucket_resource
from infra.cfn_common import TemplateError, sub
from infra.cfn_keys import data_key, signing_secret
from infra.cfn_mail_intake import mail_intake_wiring
from infra.cfn_notifications import notification_wiring
from infra.cfn_observability import (
    FRAGMENT_SECTIONS,
    OBSERVABILITY_DIR,
    alarm_topic,
    function_log_groups,
    observability_fragments,
    wire_fragment,
)
from infra.cfn_scanner import scanner_functions, scanner_wiring
from infra.cfn_tables import table_resource
from infra.cfn_webhooks import webhook_delivery_wiring
from infra.resources import (
    AUDIT_SIGNING_KEY,
    BUCKETS,
    FUNCTION_POLICIES,
    app_functions,
    load_app,
    role_logical_id,
    table_specs,
)

__all__ = [
    "BUILD_DIR",
    "ROOT",
    "TemplateError",
    "build_template",
    "checked_stage",
    "main",
    "write_template",
]

ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = ROOT / "build"


def checked_stage(stage: str) -> tuple[Settings, str]:
    """The settings and signing-key secret name of a deployable `stage` (else TemplateError)."""
    if stage in stages.LOCAL_STAGES:
        raise TemplateError("the local stage is never deployed")
    if not stages.STAGE_NAME.match(stage):
        raise TemplateError(f"stage name {stage!r} must match {stages.STAGE_NAME.pattern}")
    settings = stages.stage_settings(stage)
    env = stages.stage_environment(stage)
    if not settings.hsts_enabled:
        raise TemplateError(f"stage {stage}: HSTS_ENABLED must be on in every deployed stage")
    secret_name = env.get("JWT_SIGNING_KEY_SECRET_ID")
    if not secret_name:
        raise TemplateError(f"stage {stage}: JWT_SIGNING_KEY_SECRET_ID is required")
    return settings, secret_name


def build_template(
    stage: str, app: Chalice | None = None, observability_dir: Path = OBSERVABILITY_DIR
) -> dict[str, Any]:
    """The merge template for `stage`."""
    settings, secret_name = checked_stage(stage)
    app = app or load_app()
    production = stages.is_production(stage)

    resources: dict[str, Any] = {}
    resources.update(data_key(stage))
    for spec in table_specs():
        resources[spec.logical_id] = table_resource(spec, settings, production)
    scanner_roles = [
        role_logical_id(name)
        for name in app_functions(app)
        if FUNCTION_POLICIES.get(name) == "scanner"
    ]
    for bucket_spec in BUCKETS:
        resources[bucket_spec.logical_id] = bucket_resource(bucket_spec.kind, settings, production)
        resources[f"{bucket_spec.logical_id}Policy"] = bucket_policy(
            bucket_spec.kind, scanner_roles
        )
    resources["SigningKeySecret"] = signing_secret(secret_name)
    resources.update(scanner_wiring(app, settings))
    resources.update(audit_chainer_wiring(app, stage))
    resources.update(webhook_delivery_wiring(app))
    resources.update(notification_wiring(app, settings))
    resources.update(mail_intake_wiring(app, settings))
    resources.update(scanner_functions(app, settings))
    resources.update(alarm_topic())
    rest_api, extra = rest_api_overrides(app, stage)
    resources["RestAPI"] = rest_api
    resources.update(extra)
    if stages.stage_option(stage, "log_retention_in_days", None) and app.routes:
        # Chalice 1.34 names the API handler's log group after `${ApiHandler}`, a resource it
        # renames to `APIHandler`: point the log group at the real function.
        resources["ApiHandlerLogGroup"] = {
            "Properties": {"LogGroupName": sub("/aws/lambda/${APIHandler}")}
        }

    outputs: dict[str, Any] = {
        spec.logical_id + "Name": {"Value": {"Ref": spec.logical_id}} for spec in table_specs()
    }
    outputs.update({b.logical_id + "Name": {"Value": {"Ref": b.logical_id}} for b in BUCKETS})
    outputs["SigningKeySecretArn"] = {"Value": {"Ref": "SigningKeySecret"}}
    outputs["AlarmTopicArn"] = {"Value": {"Ref": "AlarmTopic"}}
    if AUDIT_SIGNING_KEY in resources:
        outputs["AuditSigningKeyArn"] = {"Value": {"Fn::GetAtt": [AUDIT_SIGNING_KEY, "Arn"]}}
    template: dict[str, Any] = {"Resources": resources, "Outputs": outputs}

    log_groups = function_log_groups(app, stage)
    for name, raw in observability_fragments(settings, observability_dir):
        fragment = wire_fragment(raw, stage, log_groups)
        for section in FRAGMENT_SECTIONS:
            entries = fragment.get(section, {})
            target = template.setdefault(section, {})
            clash = set(entries) & set(target)
            if clash:
                raise TemplateError(f"{name}: {section} {sorted(clash)} already defined")
            target.update(entries)
    return template


def write_template(stage: str, build_dir: Path = BUILD_DIR) -> Path:
    """Write `build/<stage>/merge-template.json`; returns its path."""
    template = build_template(stage)
    out = build_dir / stage / "merge-template.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(template, indent=2, sort_keys=True) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", action="append", help="stage(s); default: every deployed one")
    args = parser.parse_args(argv)
    for stage in args.stage or stages.deployed_stage_names():
        print(f"wrote {write_template(stage).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
