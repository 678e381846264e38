"""Response schemas of the attachment routes (the OpenAPI document and the fuzzer's oracle).

They mirror `service.Attachment.public()` and the upload grant built in
`chalicelib.api.attachments`; unknown fields are forbidden, so a leaked field fails validation.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from chalicelib.attachments.models import AttachmentStatus


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AttachmentOut(_Out):
    """`Attachment.public()`: `size` is the scanned size once known, else the declared one."""

    id: str
    ticketId: str  # noqa: N815 (the contract's field names)
    organizationId: str  # noqa: N815
    uploaderId: str  # noqa: N815
    filename: str
    contentType: str  # noqa: N815
    size: int
    status: AttachmentStatus
    sniffedType: str | None  # noqa: N815
    signature: str | None
    reason: str | None
    createdAt: str  # noqa: N815
    scannedAt: str | None  # noqa: N815


class UploadGrantOut(_Out):
    """A presigned POST for exactly one object: post `fields` and the file to `url`."""

    url: str
    fields: dict[str, str]
    expiresAt: str  # noqa: N815


class AttachmentCreatedOut(_Out):
    id: str
    status: AttachmentStatus
    upload: UploadGrantOut
    attachment: AttachmentOut
