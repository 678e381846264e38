"""`/api/admin/webhooks`: endpoints (secret shown once), rotation, delivery log, redelivery.

ADMIN only, session-only (policy): a leaked API token cannot point the organization's events at
a server of its choosing. Another organization's endpoint or delivery is a 404 like a missing
one (the service reads only the caller's organization's partition).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.webhooks import delivery, endpoints
    from chalicelib.webhooks import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    delivery = lazy_module("chalicelib.webhooks.delivery")
    endpoints = lazy_module("chalicelib.webhooks.endpoints")
    models = deferred_names("chalicelib.webhooks.schemas")

admin_webhooks_bp = Blueprint(__name__)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks",
    methods=["POST"],
    operation_id="createWebhook",
    status=201,
    body=models.CreateWebhookBody,
    response=models.WebhookSecretOut,
    errors=(409,),
    summary=(
        "Register a webhook endpoint (https URL, event types); the signing secret is in the "
        "response only."
    ),
)
def create_webhook(call: ApiCall) -> dict[str, Any]:
    body = call.body(models.CreateWebhookBody)
    issued = endpoints.create_endpoint(
        call.principal, url=body.url, events=body.events, active=body.active
    )
    return models.WebhookSecretOut.dump(issued)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks",
    methods=["GET"],
    operation_id="listWebhooks",
    query=list_query.ListQuery,
    response=models.WebhookOut,
    paginated=True,
    summary="The organization's webhook endpoints (never their secrets), a page at a time.",
)
def list_webhooks(call: ApiCall) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = endpoints.list_endpoints(
        call.principal.organization_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.WebhookOut)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}",
    methods=["GET"],
    operation_id="getWebhook",
    response=models.WebhookOut,
    summary="One webhook endpoint (never its secret).",
)
def get_webhook(call: ApiCall, webhook_id: str) -> dict[str, Any]:
    return models.WebhookOut.dump(
        endpoints.get_endpoint(call.principal.organization_id, webhook_id)
    )


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}",
    methods=["PATCH"],
    operation_id="updateWebhook",
    body=models.UpdateWebhookBody,
    response=models.WebhookOut,
    summary="Change an endpoint's URL, event types or active switch.",
)
def update_webhook(call: ApiCall, webhook_id: str) -> dict[str, Any]:
    body = call.body(models.UpdateWebhookBody)
    item = endpoints.update_endpoint(
        call.principal, webhook_id, url=body.url, events=body.events, active=body.active
    )
    return models.WebhookOut.dump(item)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}",
    methods=["DELETE"],
    operation_id="deleteWebhook",
    status=204,
    summary="Delete an endpoint; its pending deliveries are not sent.",
)
def delete_webhook(call: ApiCall, webhook_id: str) -> Response:
    endpoints.delete_endpoint(call.principal, webhook_id)
    return Response(body="", status_code=204)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}/rotate",
    methods=["POST"],
    operation_id="rotateWebhookSecret",
    status=201,
    body=NoBody,
    response=models.WebhookSecretOut,
    errors=(409,),
    summary=(
        "A new signing secret (in the response only); the old one keeps signing deliveries, "
        "as a second v1, for WEBHOOK_SECRET_GRACE_SECONDS."
    ),
)
def rotate_webhook_secret(call: ApiCall, webhook_id: str) -> dict[str, Any]:
    return models.WebhookSecretOut.dump(endpoints.rotate_secret(call.principal, webhook_id))


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}/deliveries",
    methods=["GET"],
    operation_id="listWebhookDeliveries",
    query=list_query.ListQuery,
    response=models.DeliveryOut,
    paginated=True,
    summary="The endpoint's delivery log, newest first: status, attempts, latency, next attempt.",
)
def list_webhook_deliveries(call: ApiCall, webhook_id: str) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = delivery.list_deliveries(
        call.principal.organization_id, webhook_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.DeliveryOut)


@api_route(
    admin_webhooks_bp,
    "/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    methods=["POST"],
    operation_id="redeliverWebhookDelivery",
    status=202,
    body=NoBody,
    response=models.DeliveryOut,
    errors=(409,),
    summary=(
        "Queue the delivery's event again (same body and event id, a new delivery id); it is "
        "sent off the request path."
    ),
)
def redeliver_webhook(call: ApiCall, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return models.DeliveryOut.dump(delivery.redeliver(call.principal, webhook_id, delivery_id))
