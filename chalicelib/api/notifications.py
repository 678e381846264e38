"""Notification routes and functions: the caller's preferences, the one-click unsubscribe, and
the two functions that move notices off the request path (the webhooks table's stream -> the
queue; the queue -> mail). docs/api.md, "Notifications"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.lazy import deferred_names, lazy_module
from chalicelib.core.observability import traced

if TYPE_CHECKING:  # imported on a route's or a function's first use (chalicelib.core.lazy)
    from chalicelib.identity import notification_preferences
    from chalicelib.identity import schemas as models
    from chalicelib.notifications import router, sender, unsubscribe
else:
    notification_preferences = lazy_module("chalicelib.identity.notification_preferences")
    models = deferred_names("chalicelib.identity.schemas")
    router = lazy_module("chalicelib.notifications.router")
    sender = lazy_module("chalicelib.notifications.sender")
    unsubscribe = lazy_module("chalicelib.notifications.unsubscribe")

notifications_bp = Blueprint(__name__)

ROUTER_FUNCTION = "route_notifications"
SENDER_FUNCTION = "send_notifications"
# The path of the mails' one-click links (`unsubscribe.UNSUBSCRIBE_PATH`, built by
# `unsubscribe.unsubscribe_url`) without the blueprint's `/api` prefix, written out: reading it
# from that module would import the preferences domain at the cold start.
UNSUBSCRIBE_ROUTE = "/notifications/unsubscribe"


def _out(preferences: dict[str, bool]) -> dict[str, Any]:
    return models.NotificationPreferencesOut.model_validate(preferences).model_dump(mode="json")


@api_route(
    notifications_bp,
    "/me/notifications",
    methods=["GET"],
    response=models.NotificationPreferencesOut,
    operation_id="getNotificationPreferences",
    summary="Which ticket notifications the caller receives by mail (every kind on by default).",
)
def get_preferences(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    return _out(
        notification_preferences.get_preferences(principal.organization_id, principal.user_id)
    )


@api_route(
    notifications_bp,
    "/me/notifications",
    methods=["PUT"],
    body=models.NotificationPreferences,
    response=models.NotificationPreferencesOut,
    operation_id="setNotificationPreferences",
    summary="Set which ticket notifications the caller receives by mail (every kind given).",
)
def put_preferences(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    body = call.body(models.NotificationPreferences)
    return _out(
        notification_preferences.set_preferences(
            principal.organization_id, principal.user_id, body.model_dump()
        )
    )


@api_route(
    notifications_bp,
    UNSUBSCRIBE_ROUTE,
    methods=["POST"],
    public=True,
    body=NoBody,
    query=models.UnsubscribeQuery,
    response=models.UnsubscribedOut,
    errors=(404,),
    operation_id="unsubscribeNotification",
    content_types=(
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/plain",
    ),
    summary=(
        "One-click unsubscribe (RFC 8058) from a notification's List-Unsubscribe link: turns "
        "off the one kind of notification its signed token names, for the user it names. The "
        "body (List-Unsubscribe=One-Click) is not read. 404 for a token that is not genuine."
    ),
)
def unsubscribe_one_click(call: ApiCall) -> dict[str, Any]:
    query = call.query(models.UnsubscribeQuery)
    _, kind = unsubscribe.apply(query.token)
    return models.UnsubscribedOut.dump({"kind": kind, "subscribed": False})


@notifications_bp.lambda_function(name=ROUTER_FUNCTION)
def route_notifications(event: dict[str, Any], context: Any) -> dict[str, int]:
    """A batch of the webhooks table's stream -> the notices of its ticket events, queued."""
    with traced("## route_notifications") as annotate:
        counts = router.route_stream_event(event)
        annotate(**counts)
    return counts


@notifications_bp.lambda_function(name=SENDER_FUNCTION)
def send_notifications(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A batch of the notifications queue -> mail; failed sends go back to the queue."""
    with traced("## send_notifications") as annotate:
        result = sender.process_queue_event(event, lambda_context=context)
        annotate(failed=len(result["batchItemFailures"]))
    return result
