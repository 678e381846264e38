"""The audit table: per organization, the chain's head and its hash-chained records."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta


class AuditItem(Model):
    """Base of the audit table's items (key schema in one place)."""

    Meta = table_meta("audit")
    pk = UnicodeAttribute(hash_key=True)  # ORG#<org>
    sk = UnicodeAttribute(range_key=True)  # HEAD | SEQ#<zero-padded seq>


class AuditHeadModel(AuditItem):
    Meta = table_meta("audit")
    seq = NumberAttribute()
    hash = UnicodeAttribute()


class AuditRecordModel(AuditItem):
    Meta = table_meta("audit")
    organization_id = UnicodeAttribute()
    seq = NumberAttribute()
    at = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    request_id = UnicodeAttribute(null=True)
    details = UnicodeAttribute()  # canonical JSON of {"before": ..., "after": ...}
    prev_hash = UnicodeAttribute()
    hash = UnicodeAttribute()
