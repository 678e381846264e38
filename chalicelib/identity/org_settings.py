"""Organization settings an admin sets: which tickets agents see (`agentTicketVisibility`).

Stored on the organization item (`ORG#<org>` / `ORG` in the identity table); every change is
audited in the same transaction.
"""

from __future__ import annotations

import dataclasses

from pynamodb.exceptions import DoesNotExist

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.core.errors import NotFound
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import OrganizationModel

ORGANIZATION = "organization"
GROUPS = "groups"
TICKET_VISIBILITIES = (ORGANIZATION, GROUPS)


@dataclasses.dataclass(frozen=True)
class OrgSettings:
    agent_ticket_visibility: str


def _org(organization_id: str) -> OrganizationModel:
    try:
        return OrganizationModel.get(org_pk(organization_id), "ORG", consistent_read=True)
    except DoesNotExist:
        raise NotFound() from None


def get_settings(organization_id: str) -> OrgSettings:
    """The organization's settings (one GetItem); defaults for what was never set."""
    item = _org(organization_id)
    return OrgSettings(agent_ticket_visibility=item.agent_ticket_visibility or ORGANIZATION)


def agent_ticket_visibility(organization_id: str) -> str:
    """ "organization" (agents see every ticket) or "groups" (see `tickets.policy`)."""
    try:
        return get_settings(organization_id).agent_ticket_visibility
    except NotFound:
        return ORGANIZATION


def set_agent_ticket_visibility(organization_id: str, value: str, *, actor_id: str) -> OrgSettings:
    """Change the setting (audited `org.settings`); unchanged values write nothing."""
    if value not in TICKET_VISIBILITIES:
        raise ValueError(value)
    item = _org(organization_id)
    before = item.agent_ticket_visibility or ORGANIZATION
    if before == value:
        return OrgSettings(agent_ticket_visibility=value)
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="org.settings",
        target_type="organization",
        target_id=organization_id,
        before={"agentTicketVisibility": before},
        after={"agentTicketVisibility": value},
    )
    transact(
        entry,
        lambda tx: tx.update(
            item,
            actions=[OrganizationModel.agent_ticket_visibility.set(value)],
            condition=OrganizationModel.pk.exists(),
        ),
    )
    return OrgSettings(agent_ticket_visibility=value)
