"""Agent groups: named sets of an organization's agents and admins that tickets can belong to.

Groups live in the tickets table under the organization's own partition (`ORG#<org>`,
`GROUP#<id>`), so another organization's group cannot be addressed: its id answers exactly like
an id that exists nowhere. An organization has at most `MAX_GROUPS` groups and a group at most
`MAX_MEMBERS` members, so listing every group is one Query and a membership check is a condition
on one item.

Every change is audited in the same transaction as the change (`audit.transact`). Setting the
members checks, at commit time, that each user is an active agent or admin of the organization
(one condition per user, built in the organization's partition: a foreign user id fails like an
unknown one). Archiving keeps the group and its tickets; an archived group takes no new tickets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.tickets import writes
from chalicelib.tickets.models import GROUP_PREFIX, GroupModel, group_sk, is_valid_id, new_id

MAX_GROUPS = 100
MAX_MEMBERS = 90  # + the group and the audit record: within one 100-item transaction

STALE = "The group was changed by someone else; reload it and retry."


def get_group(organization_id: str, group_id: str) -> GroupModel:
    """A group of the organization, or NotFound (malformed, missing, another organization's)."""
    if not is_valid_id(group_id):
        raise NotFound()
    try:
        return GroupModel.get(org_pk(organization_id), group_sk(group_id), consistent_read=True)
    except DoesNotExist:
        raise NotFound() from None


def all_groups(organization_id: str) -> list[GroupModel]:
    """Every group of the organization, oldest first (one Query: at most MAX_GROUPS items)."""
    return [
        item
        for item in GroupModel.query(
            org_pk(organization_id), GroupModel.sk.startswith(GROUP_PREFIX), consistent_read=True
        )
        if isinstance(item, GroupModel)
    ]


def groups_of(organization_id: str, user_id: str) -> list[str]:
    """The ids of the groups (archived ones included) the user is a member of."""
    return [g.group_id for g in all_groups(organization_id) if user_id in (g.member_ids or [])]


def list_groups(
    organization_id: str, *, archived: bool | None, limit: int, cursor: str | None
) -> Page[GroupModel]:
    """A page of the organization's groups, oldest first; `archived` filters (None: all)."""
    binding = f"groups|{archived}"
    start = cursors.decode(organization_id, binding, cursor)
    after = start.get("after") if isinstance(start, dict) else None
    matching = [
        g
        for g in all_groups(organization_id)
        if (archived is None or bool(g.archived) == archived)
        and (after is None or g.group_id > after)
    ]
    items = matching[:limit]
    position = {"after": items[-1].group_id} if len(matching) > limit else None
    return Page(items, cursors.encode(organization_id, binding, position))


def _summary(item: GroupModel) -> dict[str, Any]:
    # The name and description are user text: recorded as changed, not copied.
    return {"archived": bool(item.archived), "members": len(item.member_ids or [])}


def create_group(principal: Principal, *, name: str, description: str) -> GroupModel:
    """A new, empty, active group (audited); 409 when the organization has MAX_GROUPS."""
    org = principal.organization_id
    existing = all_groups(org)
    if len(existing) >= MAX_GROUPS:
        raise Conflict(f"An organization may have at most {MAX_GROUPS} groups.")
    if any(g.name == name for g in existing):
        raise Conflict("A group with this name exists already.")
    now = writes.now()
    group_id = new_id()
    item = GroupModel(
        org_pk(org),
        group_sk(group_id),
        group_id=group_id,
        organization_id=org,
        name=name,
        description=description,
        archived=False,
        member_ids=[],
        created_at=now,
        updated_at=now,
    )
    entry = writes.entry(principal, "group.create", "group", group_id, after=_summary(item))
    audit.transact(entry, lambda tx: tx.save(item, condition=GroupModel.pk.does_not_exist()))
    return item


def _commit(
    principal: Principal,
    item: GroupModel,
    action: str,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    member_checks: Sequence[str] = (),
) -> None:
    """Save the changed group (conditioned on the version read) with its audit record."""

    def build(tx: TransactWrite) -> None:
        for user_id in member_checks:
            writes.assignee_check(tx, item.organization_id, user_id)
        tx.save(item)

    entry = writes.entry(principal, action, "group", item.group_id, before=before, after=after)
    try:
        audit.transact(entry, build)
    except TransactWriteError as error:
        failed = writes.failed_positions(error)
        bad = sorted(position for position in failed if position < len(member_checks))
        if bad:
            raise ValidationFailed(
                "Group members must be active agents or admins of this organization.",
                details=[
                    {"field": f"userIds[{position}]", "message": "is not an active agent or admin"}
                    for position in bad
                ],
            ) from None
        if len(member_checks) in failed:
            raise Conflict(STALE) from None
        raise


def update_group(
    principal: Principal,
    group_id: str,
    changes: dict[str, Any],
    *,
    if_match: int | None,
) -> GroupModel:
    """Rename, re-describe, archive or unarchive (`changes`: name, description, archived)."""
    org = principal.organization_id
    item = get_group(org, group_id)
    if if_match is not None and int(item.version or 0) != if_match:
        raise Conflict(STALE)
    renamed = "name" in changes and changes["name"] != item.name
    if renamed and any(g.name == changes["name"] for g in all_groups(org)):
        raise Conflict("A group with this name exists already.")
    before = _summary(item)
    effective = {k: v for k, v in changes.items() if getattr(item, k) != v}
    if not effective:
        return item
    for field, value in effective.items():
        setattr(item, field, value)
    item.updated_at = writes.now()
    after = _summary(item)
    for field in ("name", "description"):
        if field in effective:
            before[f"{field}Changed"] = after[f"{field}Changed"] = True
    action = "group.update"
    if set(effective) == {"archived"}:
        action = "group.archive" if item.archived else "group.unarchive"
    _commit(principal, item, action, before=before, after=after)
    return item


def set_members(
    principal: Principal, group_id: str, user_ids: Sequence[str], *, if_match: int | None
) -> GroupModel:
    """Replace the members (each checked at commit time to be an active agent or admin of the
    organization; a 400 names the positions that are not)."""
    org = principal.organization_id
    wanted = list(dict.fromkeys(user_ids))
    if len(wanted) > MAX_MEMBERS:
        raise ValidationFailed(
            details=[{"field": "userIds", "message": f"at most {MAX_MEMBERS} members"}]
        )
    item = get_group(org, group_id)
    if if_match is not None and int(item.version or 0) != if_match:
        raise Conflict(STALE)
    old = list(item.member_ids or [])
    before = {"memberIds": old}
    item.member_ids = wanted
    item.updated_at = writes.now()
    after = {"memberIds": wanted}
    _commit(principal, item, "group.members", before=before, after=after, member_checks=wanted)
    return item


# --- What tickets ask ------------------------------------------------------------------------


def invalid_group() -> ValidationFailed:
    """The one answer for a group id that is unknown, another organization's or archived."""
    return ValidationFailed(
        "The group does not exist or is archived.",
        details=[{"field": "groupId", "message": "must be an active group of this organization"}],
    )


def active_group_or_invalid(organization_id: str, group_id: str) -> GroupModel:
    """The group a ticket is being put in, or the 400 `invalid_group` answer."""
    try:
        item = get_group(organization_id, group_id)
    except NotFound:
        raise invalid_group() from None
    if item.archived:
        raise invalid_group()
    return item


def group_check(
    tx: TransactWrite,
    organization_id: str,
    group_id: str,
    member_id: str | None,
    *,
    require_active: bool,
) -> None:
    """Condition at commit time: the group exists, is active (`require_active`: a ticket is
    being put in it) and, when given, has `member_id` as a member; an archive or membership
    change racing the ticket write makes the transaction fail."""
    condition: Any = GroupModel.group_id.exists()
    if require_active:
        condition = condition & (GroupModel.archived == False)  # noqa: E712 (a condition)
    if member_id is not None:
        condition = condition & GroupModel.member_ids.contains(member_id)
    tx.condition_check(GroupModel, org_pk(organization_id), group_sk(group_id), condition=condition)


def assignee_not_member() -> ValidationFailed:
    return ValidationFailed(
        "A ticket in a group can only be assigned to a member of that group.",
        details=[{"field": "assigneeId", "message": "must be a member of the ticket's group"}],
    )


def group_excludes_assignee() -> ValidationFailed:
    return ValidationFailed(
        "The ticket's assignee is not a member of this group: unassign or reassign it first.",
        details=[{"field": "groupId", "message": "must include the ticket's current assignee"}],
    )
