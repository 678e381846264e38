"""`/api/admin/settings`: the organization's settings (which tickets agents see). ADMIN only,
session-only (policy): a leaked API token cannot widen what agents see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.identity import org_settings
    from chalicelib.identity import schemas as models
else:
    org_settings = lazy_module("chalicelib.identity.org_settings")
    models = deferred_names("chalicelib.identity.schemas")

admin_settings_bp = Blueprint(__name__)


@api_route(
    admin_settings_bp,
    "/admin/settings",
    methods=["GET"],
    operation_id="getOrgSettings",
    response=models.OrgSettingsOut,
    summary="The organization's settings.",
)
def get_settings(call: ApiCall) -> dict[str, Any]:
    return models.OrgSettingsOut.dump(org_settings.get_settings(call.principal.organization_id))


@api_route(
    admin_settings_bp,
    "/admin/settings",
    methods=["PATCH"],
    operation_id="updateOrgSettings",
    body=models.OrgSettingsBody,
    response=models.OrgSettingsOut,
    summary=(
        "Change `agentTicketVisibility` (audited): `organization` (agents see every ticket) or "
        "`groups` (agents see their groups' tickets, their own assignments and ungrouped ones)."
    ),
)
def update_settings(call: ApiCall) -> dict[str, Any]:
    body = call.body(models.OrgSettingsBody)
    principal = call.principal
    updated = org_settings.set_agent_ticket_visibility(
        principal.organization_id, body.agentTicketVisibility, actor_id=principal.user_id
    )
    return models.OrgSettingsOut.dump(updated)
