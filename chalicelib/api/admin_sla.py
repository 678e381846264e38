"""`/api/admin/sla`: the organization's business calendar and SLA policy. ADMIN only, audited.

Each organization has exactly one calendar and one policy, so the routes name no object: a
caller only ever reads or replaces its own organization's (the service builds the key from the
principal's organization).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.tickets import sla
    from chalicelib.tickets import sla_schemas as models
else:
    sla = lazy_module("chalicelib.tickets.sla")
    models = deferred_names("chalicelib.tickets.sla_schemas")

admin_sla_bp = Blueprint(__name__)


@api_route(
    admin_sla_bp,
    "/admin/sla/calendar",
    methods=["GET"],
    operation_id="getSlaCalendar",
    response=models.CalendarOut,
    summary="The business calendar SLA targets count in (24/7 UTC until one is set).",
)
def get_calendar(call: ApiCall) -> dict[str, Any]:
    return models.CalendarOut.dump(sla.calendar_body(call.principal.organization_id))


@api_route(
    admin_sla_bp,
    "/admin/sla/calendar",
    methods=["PUT"],
    operation_id="putSlaCalendar",
    body=models.CalendarIn,
    response=models.CalendarOut,
    errors=(409,),
    summary=(
        "Replace the business calendar: IANA time zone, working hours per weekday, holidays "
        "(audited). Applies to due times computed from now on."
    ),
)
def put_calendar(call: ApiCall) -> dict[str, Any]:
    return models.CalendarOut.dump(sla.put_calendar(call.principal, call.body(models.CalendarIn)))


@api_route(
    admin_sla_bp,
    "/admin/sla/policy",
    methods=["GET"],
    operation_id="getSlaPolicy",
    response=models.PolicyOut,
    summary="The SLA policy: business-minute targets per priority, group overrides, pausing.",
)
def get_policy(call: ApiCall) -> dict[str, Any]:
    return models.PolicyOut.dump(sla.policy_body(call.principal.organization_id))


@api_route(
    admin_sla_bp,
    "/admin/sla/policy",
    methods=["PUT"],
    operation_id="putSlaPolicy",
    body=models.PolicyIn,
    response=models.PolicyOut,
    errors=(409,),
    summary=(
        "Replace the SLA policy (audited). Applies to tickets created or re-prioritized from now "
        "on."
    ),
)
def put_policy(call: ApiCall) -> dict[str, Any]:
    return models.PolicyOut.dump(sla.put_policy(call.principal, call.body(models.PolicyIn)))
