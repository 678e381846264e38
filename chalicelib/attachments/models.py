"""The attachments table.

One item per attachment under its organization's partition, sorted by ticket:
`ORG#<org>` / `TICKET#<ticket>#ATT#<attachment>`, so a ticket's attachments are one Query and
no read can leave the organization. The S3 key is generated from the same three ids
(`org/<org>/ticket/<ticket>/<attachment>`), which is how the scan function finds the record.

`RetryIndex` is sparse: only attachments whose scan must be (re)tried carry `retry_queue`. It is
read by the scheduled rescan function only (never on a request path), which is why its partition
key is a fixed queue name and not an organization id.

`CleanIndex` is sparse too: a CLEAN attachment carries `clean_day` (`CLEAN#<UTC date>`) and
`clean_at`, so after a definitions refresh the sweep finds what was passed within the rescan
window, one partition per day, and rescans those judged by older definitions.
"""

from __future__ import annotations

import enum
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

RETRY_QUEUE = "SCAN_RETRY"


class AttachmentStatus(enum.StrEnum):
    PENDING_SCAN = "PENDING_SCAN"
    CLEAN = "CLEAN"
    INFECTED = "INFECTED"
    REJECTED = "REJECTED"
    ERROR = "ERROR"  # the engine could not decide; retried, never downloadable


# States the scan function may still decide from; every other state is final.
SCANNABLE = (AttachmentStatus.PENDING_SCAN.value, AttachmentStatus.ERROR.value)


def ticket_prefix(ticket_id: str) -> str:
    return f"TICKET#{ticket_id}#ATT#"


def attachment_sk(ticket_id: str, attachment_id: str) -> str:
    return f"{ticket_prefix(ticket_id)}{attachment_id}"


class RetryIndex(GlobalSecondaryIndex["AttachmentItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "retry-index"
        projection = KeysOnlyProjection()

    retry_queue = UnicodeAttribute(hash_key=True)
    retry_at = UnicodeAttribute(range_key=True)


class CleanIndex(GlobalSecondaryIndex["AttachmentItem"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "clean-index"
        projection = IncludeProjection(["definitions_version"])

    clean_day = UnicodeAttribute(hash_key=True)
    clean_at = UnicodeAttribute(range_key=True)


def clean_day(at: datetime) -> str:
    return f"CLEAN#{at.strftime('%Y-%m-%d')}"


class AttachmentItem(Model):
    """One attachment (the only item type of the `attachments` table)."""

    Meta = table_meta("attachments")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    attachment_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    uploader_id = UnicodeAttribute()
    filename = UnicodeAttribute()
    declared_type = UnicodeAttribute()
    declared_size = NumberAttribute()
    s3_key = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # Set by the scan function.
    size = NumberAttribute(null=True)
    sniffed_type = UnicodeAttribute(null=True)
    signature = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    version_id = UnicodeAttribute(null=True)
    quarantine_key = UnicodeAttribute(null=True)
    scanned_at = UTCDateTimeAttribute(null=True)
    scan_attempts = NumberAttribute(default=0)
    # The definitions version that gave the verdict (see scanning/definitions.py).
    definitions_version = UnicodeAttribute(null=True)
    # Sparse clean index (see module docstring).
    clean_day = UnicodeAttribute(null=True)
    clean_at = UnicodeAttribute(null=True)
    clean_index = CleanIndex()
    # Sparse retry queue (see module docstring).
    retry_queue = UnicodeAttribute(null=True)
    retry_at = UnicodeAttribute(null=True)
    retry_index = RetryIndex()
