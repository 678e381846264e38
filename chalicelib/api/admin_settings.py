"""`/api/admin/settings`: the organization's settings (which tickets agents see). ADMIN only,
session-only (policy): a leaked API token cannot widen what agents see."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.identity import org_settings
from chalicelib.identity.schemas import OrgSettingsBody, OrgSettingsOut

admin_settings_bp = Blueprint(__name__)


@api_route(
    admin_settings_bp,
    "/admin/settings",
    methods=["GET"],
    operation_id="getOrgSettings",
    response=OrgSettingsOut,
    summary="The organization's settings.",
)
def get_settings(call: ApiCall) -> dict[str, Any]:
    return OrgSettingsOut.dump(org_settings.get_settings(call.principal.organization_id))


@api_route(
    admin_settings_bp,
    "/admin/settings",
    methods=["PATCH"],
    operation_id="updateOrgSettings",
    body=OrgSettingsBody,
    response=OrgSettingsOut,
    summary=(
        "Change `agentTicketVisibility` (audited): `organization` (agents see every ticket) or "
        "`groups` (agents see their groups' tickets, their own assignments and ungrouped ones)."
    ),
)
def update_settings(call: ApiCall) -> dict[str, Any]:
    body = call.body(OrgSettingsBody)
    principal = call.principal
    updated = org_settings.set_agent_ticket_visibility(
        principal.organization_id, body.agentTicketVisibility, actor_id=principal.user_id
    )
    return OrgSettingsOut.dump(updated)
