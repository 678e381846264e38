"""Organization scope: the single helpers services use to bound what a principal can reach.

Repositories already take the organization id first and build it into every key, so another
organization's object cannot even be addressed. These helpers cover the rest: an object that was
obtained some other way is checked with `require_same_organization` (404, never 403, so existence
does not leak), and ticket queries are narrowed by `ticket_scope` (requesters see only their own).
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from chalicelib.authz.principal import Principal, Role
from chalicelib.core.errors import NotFound


class OrganizationOwned(Protocol):
    @property
    def organization_id(self) -> str: ...


@dataclasses.dataclass(frozen=True)
class TicketScope:
    """What a principal may see of an organization's tickets."""

    organization_id: str
    requester_id: str | None  # set: only tickets this user requested; None: the whole org

    def allows(self, organization_id: str, requester_id: str) -> bool:
        if organization_id != self.organization_id:
            return False
        return self.requester_id is None or requester_id == self.requester_id


def ticket_scope(principal: Principal) -> TicketScope:
    """Staff see their organization's tickets; a requester only the ones they requested."""
    own_only = principal.role is Role.REQUESTER
    return TicketScope(
        organization_id=principal.organization_id,
        requester_id=principal.user_id if own_only else None,
    )


def is_same_organization(principal: Principal, obj: OrganizationOwned | str) -> bool:
    """True if the object (or organization id) belongs to the principal's organization."""
    organization_id = obj if isinstance(obj, str) else obj.organization_id
    return bool(organization_id) and organization_id == principal.organization_id


def require_same_organization(principal: Principal, obj: OrganizationOwned | str) -> None:
    """NotFound (404) unless the object belongs to the principal's organization."""
    if not is_same_organization(principal, obj):
        raise NotFound()
