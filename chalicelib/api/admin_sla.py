"""`/api/admin/sla`: the organization's business calendar and SLA policy. ADMIN only, audited.

Each organization has exactly one calendar and one policy, so the routes name no object: a
caller only ever reads or replaces its own organization's (the service builds the key from the
principal's organization).
"""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.tickets import sla
from chalicelib.tickets.sla_schemas import CalendarIn, CalendarOut, PolicyIn, PolicyOut

admin_sla_bp = Blueprint(__name__)


@api_route(
    admin_sla_bp,
    "/admin/sla/calendar",
    methods=["GET"],
    operation_id="getSlaCalendar",
    response=CalendarOut,
    summary="The business calendar SLA targets count in (24/7 UTC until one is set).",
)
def get_calendar(call: ApiCall) -> dict[str, Any]:
    return CalendarOut.dump(sla.calendar_body(call.principal.organization_id))


@api_route(
    admin_sla_bp,
    "/admin/sla/calendar",
    methods=["PUT"],
    operation_id="putSlaCalendar",
    body=CalendarIn,
    response=CalendarOut,
    errors=(409,),
    summary=(
        "Replace the business calendar: IANA time zone, working hours per weekday, holidays "
        "(audited). Applies to due times computed from now on."
    ),
)
def put_calendar(call: ApiCall) -> dict[str, Any]:
    return CalendarOut.dump(sla.put_calendar(call.principal, call.body(CalendarIn)))


@api_route(
    admin_sla_bp,
    "/admin/sla/policy",
    methods=["GET"],
    operation_id="getSlaPolicy",
    response=PolicyOut,
    summary="The SLA policy: business-minute targets per priority, group overrides, pausing.",
)
def get_policy(call: ApiCall) -> dict[str, Any]:
    return PolicyOut.dump(sla.policy_body(call.principal.organization_id))


@api_route(
    admin_sla_bp,
    "/admin/sla/policy",
    methods=["PUT"],
    operation_id="putSlaPolicy",
    body=PolicyIn,
    response=PolicyOut,
    errors=(409,),
    summary=(
        "Replace the SLA policy (audited). Applies to tickets created or re-prioritized from now "
        "on."
    ),
)
def put_policy(call: ApiCall) -> dict[str, Any]:
    return PolicyOut.dump(sla.put_policy(call.principal, call.body(PolicyIn)))
