"""What every ticket write shares, single or bulk: the timestamp, the audit entry, the assignee's
commit-time condition, and reading which transaction item's condition failed."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import USER_PREFIX, UserModel
from chalicelib.tickets import clock
from chalicelib.tickets.policy import ASSIGNEE_ROLES, ON_BEHALF_REQUESTER_ROLES


def now() -> str:
    return clock.now()


def entry(
    principal: Principal,
    action: str,
    target_type: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> audit.AuditEntry:
    """The audit entry of a change made by `principal`."""
    return audit.AuditEntry(
        organization_id=principal.organization_id,
        actor_id=principal.user_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
    )


def failed_positions(error: TransactWriteError) -> set[int]:
    """Indexes of the transaction items whose condition failed."""
    return {
        position
        for position, reason in enumerate(error.cancellation_reasons or [])
        if reason is not None and reason.code == "ConditionalCheckFailed"
    }


def assignee_check(tx: TransactWrite, organization_id: str, user_id: str) -> None:
    """Condition: the assignee holds one of `policy.ASSIGNEE_ROLES` and is active in this
    organization, at commit time (a demotion or deactivation racing the assignment makes the
    transaction fail)."""
    tx.condition_check(
        UserModel,
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        condition=UserModel.role.is_in(*sorted(role.value for role in ASSIGNEE_ROLES))
        & (UserModel.active == True),  # noqa: E712 (a DynamoDB condition, not a comparison)
    )


def invalid_assignee() -> ValidationFailed:
    return ValidationFailed(
        details=[{"field": "assigneeId", "message": "must be an active agent or admin of this org"}]
    )


def requester_check(tx: TransactWrite, organization_id: str, user_id: str) -> None:
    """Condition: the user a ticket is opened for is an active requester of this organization
    at commit time (an unknown id and another organization's user fail alike: the key is
    built in this organization's partition)."""
    tx.condition_check(
        UserModel,
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        condition=UserModel.role.is_in(*sorted(role.value for role in ON_BEHALF_REQUESTER_ROLES))
        & (UserModel.active == True),  # noqa: E712 (a DynamoDB condition, not a comparison)
    )


def invalid_requester(field: str) -> ValidationFailed:
    """The one answer for a requester that is unknown, in another organization, staff or
    inactive: nothing in it tells these apart."""
    return ValidationFailed(
        details=[{"field": field, "message": "must be an active requester of this organization"}]
    )
