"""The audit table: per organization, its records (keyed by a time-ordered id) and the chain tip.

- `REC#<record id>`: one audited change, written in the change's own transaction. It is
  *pending* until the chainer (`chalicelib.audit.chainer`) adds `seq`, `prev_hash` and `hash`;
  nothing else ever changes it.
- `CHAIN`: the chain's tip (last seq and hash) and the last signed checkpoint. Only the chainer
  writes it, conditionally on the seq it read, so one chainer wins per organization.

The stream on this table (NEW_IMAGE) feeds the chainer; only INSERTs of records matter to it.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

RECORD_PREFIX = "REC#"
CHAIN_SK = "CHAIN"
# The value of `anchor_due` on a tip whose newest records no checkpoint covers yet.
ANCHOR_DUE = "due"


class AnchorDueIndex(GlobalSecondaryIndex["AuditChainModel"]):  # type: ignore[no-untyped-call]
    """Sparse: only tips with records after their last checkpoint (the checkpoint sweep)."""

    class Meta:
        index_name = "by_anchor_due"
        projection = KeysOnlyProjection()

    anchor_due = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class AuditItem(Model):
    """Base of the audit table's items (key schema in one place)."""

    Meta = table_meta("audit", stream_view_type="NEW_IMAGE")
    pk = UnicodeAttribute(hash_key=True)  # ORG#<org>
    sk = UnicodeAttribute(range_key=True)  # CHAIN | REC#<record id>
    by_anchor_due = AnchorDueIndex()


class AuditChainModel(AuditItem):
    """The chain tip of one organization (written by the chainer only)."""

    Meta = table_meta("audit", stream_view_type="NEW_IMAGE")
    organization_id = UnicodeAttribute()
    seq = NumberAttribute()
    hash = UnicodeAttribute()
    # The last signed checkpoint: its seq, the SHA-256 of its signed payload, when it was made,
    # and whether its objects are in the archive yet (claimed first, then written).
    checkpoint_seq = NumberAttribute(default=0)
    checkpoint_hash = UnicodeAttribute(null=True)
    checkpoint_at = UnicodeAttribute(null=True)
    checkpoint_archived = BooleanAttribute(default=True)
    # The signed checkpoint document (JSON) and the record id its records were read from: what
    # it takes to write its objects again if the chainer stopped between claim and archive.
    checkpoint_document = UnicodeAttribute(null=True)
    checkpoint_low_id = UnicodeAttribute(null=True)
    # The smallest record id chained since the last checkpoint (where its records start).
    low_id = UnicodeAttribute(null=True)
    anchor_due = UnicodeAttribute(null=True)


class AuditRecordModel(AuditItem):
    Meta = table_meta("audit", stream_view_type="NEW_IMAGE")
    organization_id = UnicodeAttribute()
    record_id = UnicodeAttribute()
    at = UnicodeAttribute()
    actor_id = UnicodeAttribute()
    action = UnicodeAttribute()
    target_type = UnicodeAttribute()
    target_id = UnicodeAttribute()
    request_id = UnicodeAttribute(null=True)
    details = UnicodeAttribute()  # canonical JSON of {"before": ..., "after": ...}
    # Set by the chainer; absent while the record is pending.
    seq = NumberAttribute(null=True)
    prev_hash = UnicodeAttribute(null=True)
    hash = UnicodeAttribute(null=True)
    chained_at = UnicodeAttribute(null=True)

    @property
    def pending(self) -> bool:
        return self.seq is None
