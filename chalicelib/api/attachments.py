"""Attachment routes: request an upload, list, get, download (302 when CLEAN), delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.attachments import schemas as models
    from chalicelib.attachments import service
    from chalicelib.core import list_query
else:
    models = deferred_names("chalicelib.attachments.schemas")
    service = lazy_module("chalicelib.attachments.service")
    list_query = deferred_names("chalicelib.core.list_query")

attachments_bp = Blueprint(__name__)

# `{ticket_id}` as in the tickets routes: API Gateway requires one variable name per path level.
_BASE = "/tickets/{ticket_id}/attachments"


@api_route(
    attachments_bp,
    _BASE,
    methods=["POST"],
    status=201,
    body=models.CreateAttachmentBody,
    response=models.AttachmentCreatedOut,
    summary="Record a PENDING_SCAN attachment and grant a presigned POST for its upload.",
    operation_id="createAttachment",
)
def create_attachment(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    body = call.body(models.CreateAttachmentBody)
    grant = service.create_upload(
        call.principal,
        ticket_id,
        filename=body.filename,
        content_type=body.contentType,
        size=body.size,
    )
    return models.AttachmentCreatedOut.dump(grant)


@api_route(
    attachments_bp,
    _BASE,
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.AttachmentOut,
    paginated=True,
    summary="A page of the ticket's attachments, oldest first.",
    operation_id="listAttachments",
)
def list_attachments(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = service.list_attachments(
        call.principal, ticket_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.AttachmentOut)


@api_route(
    attachments_bp,
    _BASE + "/{attachment_id}",
    methods=["GET"],
    response=models.AttachmentOut,
    summary="One attachment of a ticket the caller may see.",
    operation_id="getAttachment",
)
def get_attachment(call: ApiCall, ticket_id: str, attachment_id: str) -> dict[str, Any]:
    return models.AttachmentOut.dump(
        service.get_attachment(call.principal, ticket_id, attachment_id)
    )


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
