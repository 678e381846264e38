"""Response schemas of the attachment routes: `XOut.dump(...)` is the body (see
`chalicelib.core.schemas`), the OpenAPI document and the fuzzer's oracle."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.attachments.models import AttachmentStatus
from chalicelib.core.schemas import Out, UtcTimestamp


class AttachmentOut(Out):
    """`size` is the scanned size once known, else the declared one."""

    id: str
    ticket_id: str
    organization_id: str
    uploader_id: str
    uploader_name: str | None
    filename: str
    content_type: str
    size: int
    status: AttachmentStatus
    sniffed_type: str | None
    signature: str | None
    reason: str | None
    created_at: UtcTimestamp
    scanned_at: UtcTimestamp | None


class UploadGrantOut(Out):
    """A presigned POST for exactly one object: post `fields` and the file to `url`."""

    url: str
    fields: dict[str, str]
    expires_at: UtcTimestamp


class AttachmentCreatedOut(Out):
    id: str
    status: AttachmentStatus
    upload: UploadGrantOut
    attachment: AttachmentOut

    @classmethod
    def of(cls, source: Any) -> Self:
        """From the service's `UploadGrant`: the new attachment and the grant for its upload."""
        return super().of(
            {
                "id": source.attachment.id,
                "status": source.attachment.status,
                "upload": UploadGrantOut.of(source),
                "attachment": AttachmentOut.of(source.attachment),
            }
        )


class CreateAttachmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    # Longer than the 255-character rule on purpose: the service gives the precise message.
    filename: str = Field(min_length=1, max_length=1024)
    contentType: str = Field(min_length=1, max_length=255)  # noqa: N815 (contract field name)
    size: int = Field(ge=1, le=5 * 1024**4)
