"""Attachment routes: request an upload, list, get, download (302 when CLEAN), delete."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.attachments import service
from chalicelib.attachments.schemas import AttachmentCreatedOut, AttachmentOut
from chalicelib.core.list_query import ListQuery

attachments_bp = Blueprint(__name__)

# `{ticket_id}` as in the tickets routes: API Gateway requires one variable name per path level.
_BASE = "/tickets/{ticket_id}/attachments"


class CreateAttachmentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    # Longer than the 255-character rule on purpose: the service gives the precise message.
    filename: str = Field(min_length=1, max_length=1024)
    contentType: str = Field(min_length=1, max_length=255)  # noqa: N815 (contract field name)
    size: int = Field(ge=1, le=5 * 1024**4)


@api_route(
    attachments_bp,
    _BASE,
    methods=["POST"],
    status=201,
    body=CreateAttachmentBody,
    response=AttachmentCreatedOut,
    summary="Record a PENDING_SCAN attachment and grant a presigned POST for its upload.",
    operation_id="createAttachment",
)
def create_attachment(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    body = call.body(CreateAttachmentBody)
    grant = service.create_upload(
        call.principal,
        ticket_id,
        filename=body.filename,
        content_type=body.contentType,
        size=body.size,
    )
    return AttachmentCreatedOut.dump(grant)


@api_route(
    attachments_bp,
    _BASE,
    methods=["GET"],
    query=ListQuery,
    response=AttachmentOut,
    paginated=True,
    summary="A page of the ticket's attachments, oldest first.",
    operation_id="listAttachments",
)
def list_attachments(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    query = call.query(ListQuery)
    page = service.list_attachments(
        call.principal, ticket_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(AttachmentOut)


@api_route(
    attachments_bp,
    _BASE + "/{attachment_id}",
    methods=["GET"],
    response=AttachmentOut,
    summary="One attachment of a ticket the caller may see.",
    operation_id="getAttachment",
)
def get_attachment(call: ApiCall, ticket_id: str, attachment_id: str) -> dict[str, Any]:
    return AttachmentOut.dump(service.get_attachment(call.principal, ticket_id, attachment_id))


@api_route(
    attachments_bp,
    _BASE + "/{attachment_id}/download",
    methods=["GET"],
    status=302,
    errors=(409,),
    summary=(
        "Redirect (`Location`) to a short-lived presigned GET of the scanned file; 409 unless "
        "the attachment is CLEAN."
    ),
    operation_id="downloadAttachment",
)
def download_attachment(call: ApiCall, ticket_id: str, attachment_id: str) -> Response:
    url = service.download_url(call.principal, ticket_id, attachment_id)
    return Response(body="", status_code=302, headers={"Location": url})


@api_route(
    attachments_bp,
    _BASE + "/{attachment_id}",
    methods=["DELETE"],
    status=204,
    summary="Delete an attachment (staff, or the requester who uploaded it).",
    operation_id="deleteAttachment",
)
def delete_attachment(call: ApiCall, ticket_id: str, attachment_id: str) -> Response:
    service.delete_attachment(call.principal, ticket_id, attachment_id)
    return Response(body="", status_code=204)
