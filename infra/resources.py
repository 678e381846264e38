"""What the stack is made of, read from the code's registries: tables, buckets, functions.

Logical ids are derived here once; the template (`infra.template`) creates the resources under
these ids and the IAM policies (`infra.policies`) grant access to them by the same ids.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from chalice.app import Chalice
from chalice.utils import to_cfn_resource_name
from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex, Index, LocalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.settings import Settings, get_settings
from chalicelib.tables import table_models

# The API handler Lambda: Chalice's fixed name for the function behind every route.
API_HANDLER = "api_handler"

# Functions by Chalice name -> the policy (role) they run under. A new function must be added
# here and to `lambda_functions` in .chalice/config.json (a test checks both).
FUNCTION_POLICIES: dict[str, str] = {
    API_HANDLER: "api",
    "deskguard_authorizer": "authorizer",  # TOKEN authorizer (Authorization header)
    "deskguard_request_authorizer": "authorizer",  # REQUEST authorizer (cookie), infra.cfn_api
    "scan_attachment": "scanner",  # new upload -> ClamAV scan
    "retry_attachment_scans": "scanner",  # schedule: re-scan errors and missed events
    "refresh_av_definitions": "definitions",  # schedule: refresh ClamAV definitions
    "chain_audit_records": "audit_chainer",  # audit table stream -> chain + checkpoints
    "checkpoint_audit_chains": "audit_chainer",  # schedule: checkpoint quiet organizations
    "deliver_webhooks": "webhooks",  # webhooks table stream -> fan-out, delivery attempts
    "retry_webhook_deliveries": "webhooks",  # schedule: attempts that are due (retries)
    "route_notifications": "notifications_router",  # webhooks stream -> notices queued
    "send_notifications": "notifications_sender",  # notifications queue -> mail
    "sweep_sla_breaches": "sla",  # schedule: mark overdue SLA targets breached
    "ingest_mail": "mail_intake",  # inbound-mail bucket object created -> ticket or comment
}
POLICY_FILES: dict[str, str] = {
    "api": "policy-api.json",
    "authorizer": "policy-authorizer.json",
    "scanner": "policy-scanner.json",
    "definitions": "policy-definitions.json",
    "audit_chainer": "policy-audit-chainer.json",
    "webhooks": "policy-webhooks.json",
    "notifications_router": "policy-notifications-router.json",
    "notifications_sender": "policy-notifications-sender.json",
    "sla": "policy-sla.json",
    "mail_intake": "policy-mail-intake.json",
}
SCANNER_FUNCTION = "scan_attachment"
AUDIT_CHAINER_FUNCTION = "chain_audit_records"
WEBHOOK_DELIVERY_FUNCTION = "deliver_webhooks"
NOTIFICATIONS_ROUTER_FUNCTION = "route_notifications"
NOTIFICATIONS_SENDER_FUNCTION = "send_notifications"
# The notifications queue and its dead-letter queue (infra.cfn_notifications).
NOTIFICATIONS_QUEUE = "NotificationsQueue"
NOTIFICATIONS_DLQ = "NotificationsDeadLetterQueue"
MAIL_INTAKE_FUNCTION = "ingest_mail"
# The asymmetric KMS key that signs audit checkpoints (infra.cfn_audit).
AUDIT_SIGNING_KEY = "AuditSigningKey"


@dataclasses.dataclass(frozen=True)
class ScannerFunction:
    """Lambda settings of a function that runs ClamAV from the scanner layer.

    Memory: the resident clamd holds the whole database (official set: ~1.1-1.4 GB RSS), and a
    reload briefly holds two (ConcurrentDatabaseReload), plus Python and the object; see
    bench/scan.py for the measured peak. Ephemeral storage: definitions (~350 MB) + the object.
    """

    memory_mb: int
    ephemeral_mb: int
    timeout_seconds: int
    reserved_concurrency: int


# Chalice name -> settings. Only these carry the ClamAV layer; the API and the authorizers never.
SCANNER_FUNCTIONS: dict[str, ScannerFunction] = {
    SCANNER_FUNCTION: ScannerFunction(3008, 2048, 300, 50),
    # One sweep at a time (every 10 minutes): retries, then rescans after new definitions.
    "retry_attachment_scans": ScannerFunction(3008, 2048, 900, 1),
    # freshclam + a throw-away clamd to self-test the new set before it is published.
    "refresh_av_definitions": ScannerFunction(3008, 2048, 900, 1),
}
SCANNER_LAYER = "ClamavLayer"
SCANNER_LAYER_ZIP = "clamav-layer.zip"
SCAN_EVENTS_BUS = "ScanEventsBus"
SCANNER_DLQ = "ScannerDeadLetterQueue"


def function_logical_id(name: str) -> str:
    """The CloudFormation logical id Chalice gives a function (`api_handler` -> `APIHandler`)."""
    return "APIHandler" if name == API_HANDLER else to_cfn_resource_name(name)


def role_logical_id(name: str) -> str:
    """The logical id of the role Chalice creates for a function with its own policy file."""
    return to_cfn_resource_name(f"{name}_role")


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_") if part)


@dataclasses.dataclass(frozen=True)
class IndexSpec:
    name: str
    kind: str  # "global" | "local"
    index: Index[Any]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """One physical DynamoDB table, as its base model in `chalicelib.tables` defines it."""

    short_name: str
    model: type[Model]

    @property
    def logical_id(self) -> str:
        return f"{camel(self.short_name)}Table"

    def physical_name(self, settings: Settings) -> str:
        return settings.table_name(self.short_name)

    def family(self) -> list[type[Model]]:
        """The base model and every subclass of it (items sharing the table)."""
        seen: list[type[Model]] = []
        stack: list[type[Model]] = [self.model]
        while stack:
            cls = stack.pop()
            if cls not in seen:
                seen.append(cls)
                stack.extend(cls.__subclasses__())
        return seen

    def indexes(self) -> list[IndexSpec]:
        """Secondary indexes declared on the base model or any item model of the table."""
        found: dict[str, IndexSpec] = {}
        for cls in self.family():
            for name, index in getattr(cls, "_indexes", {}).items():
                kind = "global" if isinstance(index, GlobalSecondaryIndex) else "local"
                if isinstance(index, GlobalSecondaryIndex | LocalSecondaryIndex):
                    found.setdefault(name, IndexSpec(name, kind, index))
        return sorted(found.values(), key=lambda spec: spec.name)

    def ttl_attribute(self) -> str | None:
        """The TTL attribute's stored name, if any item model of the table declares one."""
        names = {
            attr.attr_name
            for cls in self.family()
            for attr in cls.get_attributes().values()
            if isinstance(attr, TTLAttribute)
        }
        if len(names) > 1:
            raise ValueError(f"table {self.short_name}: several TTL attributes {sorted(names)}")
        return names.pop() if names else None


def table_specs() -> list[TableSpec]:
    """Every table of the registry, by its logical short name (`identity`, `audit`, ...)."""
    prefix = get_settings().table_prefix + "-"
    specs = []
    for model in table_models():
        name: str = model.Meta.table_name
        if not name.startswith(prefix):
            raise ValueError(f"{model.__name__}: table {name} does not use table_meta()")
        specs.append(TableSpec(short_name=name[len(prefix) :], model=model))
    return specs


@dataclasses.dataclass(frozen=True)
class BucketSpec:
    kind: str
    logical_id: str
    setting: str  # the Settings attribute holding its name

    def physical_name(self, settings: Settings) -> str:
        return str(getattr(settings, self.setting))


BUCKETS = (
    BucketSpec("uploads", "UploadsBucket", "uploads_bucket"),
    BucketSpec("quarantine", "QuarantineBucket", "quarantine_bucket"),
    BucketSpec("definitions", "DefinitionsBucket", "definitions_bucket"),
    BucketSpec("audit_archive", "AuditArchiveBucket", "audit_archive_bucket"),
    BucketSpec("inbound_mail", "InboundMailBucket", "inbound_mail_bucket"),
)


def bucket(kind: str) -> BucketSpec:
    return next(spec for spec in BUCKETS if spec.kind == kind)


def load_app() -> Chalice:
    """The Chalice app object (`app.py`)."""
    module = importlib.import_module("app")
    app: Chalice = module.app
    return app


def app_functions(app: Chalice) -> list[str]:
    """The Chalice names of every Lambda function the app defines."""
    names = {API_HANDLER} if app.routes else set()
    names |= {auth.name for auth in app.builtin_auth_handlers}
    names |= {function.name for function in app.pure_lambda_functions}
    names |= {source.name for source in app.event_sources}
    return sorted(names)
