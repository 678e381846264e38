"""Which ticket notifications a user receives: stored on the user item, every kind on by default.

A user changes them with `PUT /api/me/notifications`, or turns one kind off from the
`List-Unsubscribe` link of a notification (`chalicelib.notifications.unsubscribe`). The item keeps
only the kinds turned off, so a kind added later starts on for everyone. Every change that
turns something on or off is audited (`user.notifications`), in one transaction with it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import Role
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import NotFound
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import USER_PREFIX, UserModel

TICKET_CREATED = "ticketCreated"
PUBLIC_REPLY = "publicReply"
REQUESTER_REPLY = "requesterReply"
ASSIGNED = "assigned"
KINDS = (TICKET_CREATED, PUBLIC_REPLY, REQUESTER_REPLY, ASSIGNED)


def _from_off(off: set[str] | None) -> dict[str, bool]:
    disabled = set(off or ())
    return {kind: kind not in disabled for kind in KINDS}


def get_preferences(organization_id: str, user_id: str) -> dict[str, bool]:
    """The user's preferences (every kind, True = mailed); NotFound for an unknown user."""
    try:
        item = UserModel.get(org_pk(organization_id), f"{USER_PREFIX}{user_id}")
    except DoesNotExist:
        raise NotFound() from None
    return _from_off(item.notifications_off)


def preferences_of(item: UserModel) -> dict[str, bool]:
    """The preferences stored on a user item already read."""
    return _from_off(item.notifications_off)


def _update_audited(
    organization_id: str,
    user_id: str,
    action: Action,
    before: dict[str, bool],
    after: dict[str, bool],
    *,
    via: str,
) -> bool:
    """The user item's update and its audit record in one transaction; False when the user
    does not exist."""
    item = UserModel(org_pk(organization_id), f"{USER_PREFIX}{user_id}")
    changed = {kind: on for kind, on in after.items() if before.get(kind) != on}
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=user_id,
        action="user.notifications",
        target_type="user",
        target_id=user_id,
        before={kind: before[kind] for kind in changed},
        after=changed | {"via": via},
    )

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=[action], condition=UserModel.pk.exists())

    try:
        transact(entry, build)
    except TransactWriteError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def set_preferences(
    organization_id: str, user_id: str, preferences: Mapping[str, bool]
) -> dict[str, bool]:
    """Replace the user's preferences (kinds not named keep their value): one transaction with
    its audit record, none when nothing changes."""
    unknown = set(preferences) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown notification kinds: {sorted(unknown)}")
    before = get_preferences(organization_id, user_id)
    current = before | dict(preferences)
    if current == before:
        return current
    off = {kind for kind, on in current.items() if not on}
    action = UserModel.notifications_off.set(off) if off else UserModel.notifications_off.remove()
    if not _update_audited(organization_id, user_id, action, before, current, via="settings"):
        raise NotFound()
    return current


def turn_off(organization_id: str, user_id: str, kind: str) -> bool:
    """Turn one kind off (the one-click unsubscribe); False when the user does not exist."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    try:
        before = get_preferences(organization_id, user_id)
    except NotFound:
        return False
    if not before[kind]:
        return True  # already off: nothing to change or audit
    action = UserModel.notifications_off.add({kind})
    after = before | {kind: False}
    return _update_audited(organization_id, user_id, action, before, after, via="unsubscribe")


@dataclasses.dataclass(frozen=True)
class Recipient:
    """What a notification needs of its recipient (one read of the user item)."""

    user_id: str
    organization_id: str
    email: str
    name: str
    role: Role
    active: bool
    preferences: dict[str, bool]


def recipient(organization_id: str, user_id: str) -> Recipient | None:
    """The organization's user with their preferences (consistent read), or None."""
    try:
        item = UserModel.get(
            org_pk(organization_id), f"{USER_PREFIX}{user_id}", consistent_read=True
        )
    except DoesNotExist:
        return None
    return Recipient(
        user_id=item.user_id,
        organization_id=item.organization_id,
        email=item.email,
        name=item.name,
        role=Role(item.role),
        active=bool(item.active),
        preferences=preferences_of(item),
    )
