"""Ticket and comment routes: parse, call the ticket service, shape the contract's JSON.

Only sanitized HTML (`bodyHtml`) is returned as HTML; the Markdown source travels as a JSON
string. Internal notes reach this module only for staff (the service filters them out).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, api_route, validation_details
from chalicelib.core.errors import PreconditionRequired, ValidationFailed
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.tickets import bulk as bulk_actions
    from chalicelib.tickets import merge, service
    from chalicelib.tickets import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    bulk_actions = lazy_module("chalicelib.tickets.bulk")
    merge = lazy_module("chalicelib.tickets.merge")
    service = lazy_module("chalicelib.tickets.service")
    models = deferred_names("chalicelib.tickets.schemas")

tickets_bp = Blueprint(__name__)

_IF_MATCH = re.compile(r'^(?:W/)?"?([0-9]{1,12})"?$')


def _with_etag(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        body=body,
        status_code=status,
        headers={"Content-Type": "application/json", "ETag": f'"{body["version"]}"'},
    )


def _if_match(call: ApiCall) -> int:
    raw = call.header("If-Match")
    if raw is None or not raw.strip():
        raise PreconditionRequired()
    match = _IF_MATCH.fullmatch(raw.strip())
    if match is None:
        raise ValidationFailed(
            details=[{"field": "If-Match", "message": "must be the ticket's version (its ETag)"}]
        )
    return int(match.group(1))


@api_route(
    tickets_bp,
    "/tickets",
    methods=["POST"],
    status=201,
    body=models.CreateTicket,
    response=models.TicketOut,
    summary=(
        "Open a ticket requested by the caller, or (staff) on behalf of a customer given by "
        "`requesterId` or `requester` {email, name}; `submitterId` records the caller. "
        "Optional `Idempotency-Key` header (8..128 of [A-Za-z0-9._:-]): a retry returns the "
        "first result; reused for another body: 409. "
        "The response carries `ETag` (the version)."
    ),
    operation_id="createTicket",
    request_headers=("Idempotency-Key",),
    response_headers=("ETag",),
)
def create_ticket(call: ApiCall) -> Response:
    payload = call.json_object()
    body = call.body(models.CreateTicket)
    # Lazy: Powertools' idempotency machinery is costly to import and only creates need it, so
    # the API function's cold start (and every read) does not pay for it.
    from chalicelib.tickets import idempotency

    key = idempotency.validate_key(call.header(idempotency.HEADER))
    result = idempotency.run_once(
        call.principal,
        "tickets.create",
        key,
        payload,
        lambda: models.TicketOut.dump(service.create_ticket(call.principal, body)),
        lambda_context=call.request.lambda_context,
    )
    return _with_etag(result, status=201)


@api_route(
    tickets_bp,
    "/tickets",
    methods=["GET"],
    query=models.ListTicketsQuery,
    response=models.TicketOut,
    paginated=True,
    summary=(
        "Tickets the caller may see (a requester: their own), filtered, sorted (`sort`, default "
        "newest first) or searched (`q`). A page holds `limit` items whenever that many matches "
        "remain, unless five reads found fewer (then `nextCursor` resumes where reading stopped)."
    ),
    operation_id="listTickets",
)
def list_tickets(call: ApiCall) -> dict[str, Any]:
    return service.list_tickets(call.principal, call.query(models.ListTicketsQuery)).dump(
        models.TicketOut
    )


@api_route(
    tickets_bp,
    "/tickets/bulk",
    methods=["POST"],
    body=models.BulkRequest,
    response=models.BulkOut,
    summary="Apply one action to up to 100 tickets (staff); one outcome per id, in order.",
    operation_id="bulkUpdateTickets",
)
def bulk(call: ApiCall) -> dict[str, Any]:
    from pydantic import ValidationError

    try:
        request = models.BULK_REQUEST.validate_python(call.json_object())
    except ValidationError as error:
        raise ValidationFailed(details=validation_details(error)) from None
    return models.BulkOut.dump({"results": bulk_actions.bulk_update(call.principal, request)})


@api_route(
    tickets_bp,
    "/tickets/{ticket_id}",
    methods=["GET"],
    response=models.TicketOut,
    summary="A ticket the caller may see; `ETag` carries its version.",
    operation_id="getTicket",
    response_headers=("ETag",),
)
def get_ticket(call: ApiCall, ticket_id: str) -> Response:
    return _with_etag(models.TicketOut.dump(service.view_ticket(call.principal, ticket_id)))


@api_route(
    tickets_bp,
    "/tickets/{ticket_id}",
    methods=["PATCH"],
    body=models.UpdateTicket,
    response=models.TicketOut,
    summary=(
        "Change fields of a ticket. Requires `If-Match` with the version read (ETag); a stale "
        "version is a 409. Requesters may only change the subject or close their ticket."
    ),
    operation_id="updateTicket",
    request_headers=("If-Match",),
    response_headers=("ETag",),
    errors=(428,),
)
def update_ticket(call: ApiCall, ticket_id: str) -> Response:
    body = call.body(models.UpdateTicket)
    version = _if_match(call)
    ticket = service.update_ticket(call.principal, ticket_id, body, version)
    return _with_etag(models.TicketOut.dump(ticket))


@api_route(
    tickets_bp,
    "/tickets/{ticket_id}/merge",
    methods=["POST"],
    body=models.MergeTicket,
    response=models.TicketOut,
    summary=(
        "Merge the ticket into `intoId` (staff): it is CLOSED with `mergedInto`, the target "
        "lists it in `mergedFrom` and shows its comments and attachments. Requires `If-Match` "
        "with the source's version; a stale version, a merged or closed target, or merging a "
        "ticket into itself is a 409. Returns the target (`ETag`: its version)."
    ),
    operation_id="mergeTicket",
    request_headers=("If-Match",),
    response_headers=("ETag",),
    errors=(409, 428),
)
def merge_ticket(call: ApiCall, ticket_id: str) -> Response:
    body = call.body(models.MergeTicket)
    version = _if_match(call)
    target = merge.merge_ticket(call.principal, ticket_id, body.intoId, version)
    return _with_etag(models.TicketOut.dump(target))


@api_route(
    tickets_bp,
    "/tickets/{ticket_id}/comments",
    methods=["POST"],
    status=201,
    body=models.CreateComment,
    response=models.CommentOut,
    summary=(
        "Reply to a ticket, or add an internal note (staff only). Optional `Idempotency-Key` "
        "header as on ticket creation."
    ),
    operation_id="createComment",
    request_headers=("Idempotency-Key",),
)
def add_comment(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    payload = call.json_object()
    body = call.body(models.CreateComment)
    from chalicelib.tickets import idempotency  # lazy, as in create_ticket

    key = idempotency.validate_key(call.header(idempotency.HEADER))
    return idempotency.run_once(
        call.principal,
        f"comments.create:{ticket_id}",
        key,
        payload,
        lambda: models.CommentOut.dump(service.add_comment(call.principal, ticket_id, body)),
        lambda_context=call.request.lambda_context,
    )


@api_route(
    tickets_bp,
    "/tickets/{ticket_id}/comments",
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.CommentOut,
    paginated=True,
    summary="A ticket's conversation, oldest first (requesters never see internal notes).",
    operation_id="listComments",
)
def list_comments(call: ApiCall, ticket_id: str) -> dict[str, Any]:
    page = service.list_comments(call.principal, ticket_id, call.query(list_query.ListQuery))
    return page.dump(models.CommentOut)
