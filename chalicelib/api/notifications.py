"""Notification routes and functions: the caller's preferences, the one-click unsubscribe, and
the two functions that move notices off the request path (the webhooks table's stream -> the
queue; the queue -> mail). docs/api.md, "Notifications"."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.observability import traced
from chalicelib.core.schemas import Out
from chalicelib.identity import notification_preferences
from chalicelib.notifications import router, sender, unsubscribe

notifications_bp = Blueprint(__name__)

ROUTER_FUNCTION = "route_notifications"
SENDER_FUNCTION = "send_notifications"


class NotificationPreferences(BaseModel):
    """Every kind, `true` = mailed. PUT sends all of them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    ticketCreated: bool  # noqa: N815
    publicReply: bool  # noqa: N815
    requesterReply: bool  # noqa: N815
    assigned: bool


class NotificationPreferencesOut(Out):
    ticket_created: bool
    public_reply: bool
    requester_reply: bool
    assigned: bool


def _out(preferences: dict[str, bool]) -> dict[str, Any]:
    return NotificationPreferencesOut.model_validate(preferences).model_dump(mode="json")


class UnsubscribeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    token: str = Field(min_length=1, max_length=400)


class UnsubscribedOut(Out):
    kind: str
    subscribed: bool


@api_route(
    notifications_bp,
    "/me/notifications",
    methods=["GET"],
    response=NotificationPreferencesOut,
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
    body=NotificationPreferences,
    response=NotificationPreferencesOut,
    operation_id="setNotificationPreferences",
    summary="Set which ticket notifications the caller receives by mail (every kind given).",
)
def put_preferences(call: ApiCall) -> dict[str, Any]:
    principal = call.principal
    body = call.body(NotificationPreferences)
    return _out(
        notification_preferences.set_preferences(
            principal.organization_id, principal.user_id, body.model_dump()
        )
    )


@api_route(
    notifications_bp,
    unsubscribe.UNSUBSCRIBE_PATH.removeprefix("/api"),
    methods=["POST"],
    public=True,
    body=NoBody,
    query=UnsubscribeQuery,
    response=UnsubscribedOut,
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
    query = call.query(UnsubscribeQuery)
    _, kind = unsubscribe.apply(query.token)
    return UnsubscribedOut.dump({"kind": kind, "subscribed": False})


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
