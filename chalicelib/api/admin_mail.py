"""`/api/admin/mail/quarantine`: review the inbound mail a failed SES verdict held back: list,
release into normal intake, discard. ADMIN only (policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.intake import quarantine
    from chalicelib.intake import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    quarantine = lazy_module("chalicelib.intake.quarantine")
    models = deferred_names("chalicelib.intake.schemas")

admin_mail_bp = Blueprint(__name__)


@api_route(
    admin_mail_bp,
    "/admin/mail/quarantine",
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.QuarantinedMailOut,
    paginated=True,
    summary="The organization's quarantined inbound messages, newest first (never a body).",
    operation_id="listQuarantinedMail",
)
def list_quarantine(call: ApiCall) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = quarantine.list_quarantined(
        call.principal.organization_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.QuarantinedMailOut)


@api_route(
    admin_mail_bp,
    "/admin/mail/quarantine/{mail_id}/release",
    methods=["POST"],
    body=NoBody,
    response=models.ReleasedMailOut,
    errors=(409,),
    summary=(
        "Ingest a quarantined message as if its verdicts had passed: a ticket or a comment "
        "(audited). 409 if its virus verdict failed, its stored copy is gone or its sender "
        "cannot be ticketed."
    ),
    operation_id="releaseQuarantinedMail",
)
def release_quarantined(call: ApiCall, mail_id: str) -> dict[str, Any]:
    principal = call.principal
    released = quarantine.release(principal.organization_id, mail_id, actor_id=principal.user_id)
    return models.ReleasedMailOut.dump(released)


@api_route(
    admin_mail_bp,
    "/admin/mail/quarantine/{mail_id}",
    methods=["DELETE"],
    status=204,
    summary="Discard a quarantined message and its stored copy (audited).",
    operation_id="discardQuarantinedMail",
)
def discard_quarantined(call: ApiCall, mail_id: str) -> Response:
    principal = call.principal
    quarantine.discard(principal.organization_id, mail_id, actor_id=principal.user_id)
    return Response(body="", status_code=204)
