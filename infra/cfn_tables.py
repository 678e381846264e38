"""The DynamoDB tables of the merge template, one `AWS::DynamoDB::Table` per model family of
`chalicelib.tables.table_models()`: keys, indexes, TTL attribute, SSE-KMS with the stage's data
key, PITR, deletion protection on production stages, and streams on the audit and webhooks
tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.core.settings import Settings
from infra.cfn_common import retain
from infra.resources import TableSpec

AUDIT_TABLE = "audit"
WEBHOOKS_TABLE = "webhooks"


def _projection(index: Any) -> dict[str, Any]:
    projection = index.Meta.projection
    out: dict[str, Any] = {"ProjectionType": projection.projection_type}
    if getattr(projection, "non_key_attributes", None):
        out["NonKeyAttributes"] = list(projection.non_key_attributes)
    return out


def _key_schema(entries: Sequence[Mapping[str, object]]) -> list[dict[str, str]]:
    """HASH before RANGE, as DynamoDB requires (pynamodb lists them in attribute order)."""
    return sorted(
        ({"AttributeName": str(e["AttributeName"]), "KeyType": str(e["KeyType"])} for e in entries),
        key=lambda entry: entry["KeyType"] != "HASH",
    )


def table_resource(spec: TableSpec, settings: Settings, production: bool) -> dict[str, Any]:
    """One `AWS::DynamoDB::Table` from a model family."""
    schema = spec.model._get_schema()
    definitions = {d["AttributeName"]: d["AttributeType"] for d in schema["attribute_definitions"]}
    gsis: list[dict[str, Any]] = []
    lsis: list[dict[str, Any]] = []
    for index_spec in spec.indexes():
        index_schema = index_spec.index._get_schema()
        for attr in index_spec.index.Meta.attributes.values():
            if attr.is_hash_key or attr.is_range_key:
                definitions[attr.attr_name] = attr.attr_type
        entry = {
            "IndexName": index_spec.name,
            "KeySchema": _key_schema(index_schema["key_schema"]),
            "Projection": _projection(index_spec.index),
        }
        (gsis if index_spec.kind == "global" else lsis).append(entry)
    properties: dict[str, Any] = {
        "TableName": spec.physical_name(settings),
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in sorted(definitions.items())
        ],
        "KeySchema": _key_schema(schema["key_schema"]),
        "SSESpecification": {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": {"Ref": "DataKey"},
        },
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": production,
        "Tags": [{"Key": "deskguard:table", "Value": spec.short_name}],
    }
    if gsis:
        properties["GlobalSecondaryIndexes"] = gsis
    if lsis:
        properties["LocalSecondaryIndexes"] = lsis
    ttl = spec.ttl_attribute()
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    if spec.short_name == AUDIT_TABLE:
        # Feeds the audit chainer (seq, hashes, signed checkpoints to the Object Lock bucket).
        properties["StreamSpecification"] = {"StreamViewType": "NEW_IMAGE"}
    if spec.short_name == WEBHOOKS_TABLE:
        # Feeds the webhook delivery function (new outbox events and deliveries).
        properties["StreamSpecification"] = {"StreamViewType": "KEYS_ONLY"}
    return retain({"Type": "AWS::DynamoDB::Table", "Properties": properties}, production)
