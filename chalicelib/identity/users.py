"""Organizations and users: repository functions (organization id first) and the identity service.

Repositories never decide permissions; the service functions take plain data and return plain
records. Admin user management (invite, role change, deactivate) builds on these.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import uuid
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.principal import Role
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound, Unauthenticated
from chalicelib.core.org_keys import org_pk, organization_of_key
from chalicelib.identity import revocation
from chalicelib.identity.models import (
    EMAIL_PREFIX,
    USER_PREFIX,
    EmailClaimModel,
    IdentityItem,
    OrganizationModel,
    UserModel,
)
from chalicelib.identity.passwords import dummy_hash, hash_password, verify_password

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")


@dataclasses.dataclass(frozen=True)
class User:
    """A user as services see it (never carries the password hash out of this module)."""

    id: str
    organization_id: str
    email: str
    name: str
    role: Role
    active: bool


def _to_user(item: UserModel) -> User:
    return User(
        id=item.user_id,
        organization_id=item.organization_id,
        email=item.email,
        name=item.name,
        role=Role(item.role),
        active=bool(item.active),
    )


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_organization(organization_id: str, name: str) -> None:
    """Create an organization (slug id, unique)."""
    if not _SLUG.match(organization_id):
        raise ValueError("organization id must be a lowercase slug of 3..40 characters")
    item = OrganizationModel(
        org_pk(organization_id),
        "ORG",
        organization_id=organization_id,
        name=name,
        created_at=datetime.now(UTC),
    )
    try:
        item.save(condition=OrganizationModel.pk.does_not_exist())
    except PutError as error:
        if is_condition_failure(error):
            raise Conflict("Organization already exists.") from error
        raise


def organization_exists(organization_id: str) -> bool:
    try:
        OrganizationModel.get(org_pk(organization_id), "ORG")
    except DoesNotExist:
        return False
    return True


def _org_admin_ops(
    tx: TransactWrite, organization_id: str, delta: int, *, must_exist: bool = True
) -> None:
    """Keep the organization's active-admin count; refuse to take it below one."""
    org_key = (org_pk(organization_id), "ORG")
    if delta == 0:
        tx.condition_check(OrganizationModel, *org_key, condition=OrganizationModel.pk.exists())
        return
    condition = OrganizationModel.pk.exists()
    if delta < 0:
        condition = condition & (OrganizationModel.active_admins > -delta)
    tx.update(
        OrganizationModel(*org_key),
        actions=[OrganizationModel.active_admins.add(delta)],
        condition=condition,
    )


def _active_admins(organization_id: str) -> int:
    try:
        org = OrganizationModel.get(org_pk(organization_id), "ORG", consistent_read=True)
    except DoesNotExist:
        return 0
    return int(org.active_admins or 0)


def create_user(
    organization_id: str,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None = None,
    actor_id: str = "system",
) -> User:
    """Create a user and claim their e-mail in one audited transaction.

    Without a password (an invitation) the account gets an unusable one: a hash of random bytes
    nobody knows, until the user chooses theirs through a setup link. 409 if the e-mail is
    taken, 404 if the organization does not exist.
    """
    user_id = uuid.uuid4().hex
    email_norm = normalize_email(email)
    item = UserModel(
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        user_id=user_id,
        gsi_user=user_id,
        organization_id=organization_id,
        email=email_norm,
        name=name,
        role=role.value,
        password_hash=hash_password(password or secrets.token_urlsafe(32)),
        password_version=0,
        active=True,
        created_at=datetime.now(UTC),
    )
    claim = EmailClaimModel(
        f"{EMAIL_PREFIX}{email_norm}", "EMAIL", organization_id=organization_id, user_id=user_id
    )

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=UserModel.pk.does_not_exist())
        tx.save(claim, condition=EmailClaimModel.pk.does_not_exist())
        _org_admin_ops(tx, organization_id, 1 if role is Role.ADMIN else 0)

    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="user.create",
        target_type="user",
        target_id=user_id,
        after={"role": role.value, "active": True},
    )
    try:
        transact(entry, build)
    except TransactWriteError as error:
        # (pynamodb groups a transaction's operations by type, so which condition failed is
        # told by reading the state rather than by the cancellation reasons' order.)
        if is_condition_failure(error) and not organization_exists(organization_id):
            raise NotFound("Organization not found.") from error
        if is_condition_failure(error):
            raise Conflict("A user with this e-mail already exists.") from error
        raise
    return _to_user(item)


def update_user(
    organization_id: str,
    user_id: str,
    *,
    actor_id: str,
    role: Role | None = None,
    active: bool | None = None,
    name: str | None = None,
) -> User:
    """Change a user's role, active flag or name (audited).

    The organization's active-admin count is decremented with a `> 1` condition in the same
    transaction, so the last active admin can never be demoted or deactivated, even by two
    concurrent requests. A deactivation also revokes every credential the user holds;
    a role change ends the sessions issued before it.
    """
    try:
        item = UserModel.get(
            org_pk(organization_id), f"{USER_PREFIX}{user_id}", consistent_read=True
        )
    except DoesNotExist as error:
        raise NotFound() from error
    old_role, old_active = Role(item.role), bool(item.active)
    new_role = old_role if role is None else role
    new_active = old_active if active is None else active
    new_name = item.name if name is None else name
    if (new_role, new_active, new_name) == (old_role, old_active, item.name):
        return _to_user(item)
    was_admin = old_role is Role.ADMIN and old_active
    is_admin = new_role is Role.ADMIN and new_active
    delta = int(is_admin) - int(was_admin)

    actions: list[Action] = [
        UserModel.role.set(new_role.value),
        UserModel.active.set(new_active),
        UserModel.name.set(new_name),
    ]
    if new_role is not old_role:
        # A role change ends every session issued before it (API tokens act with the current
        # role anyway): demoting and promoting back must not revive an old session.
        actions.append(UserModel.sessions_valid_from_ms.set(revocation.now_ms()))

    def build(tx: TransactWrite) -> None:
        tx.update(
            item,
            actions=actions,
            condition=(UserModel.role == old_role.value) & (UserModel.active == old_active),
        )
        if delta:
            _org_admin_ops(tx, organization_id, delta)

    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="user.update",
        target_type="user",
        target_id=user_id,
        before={"role": old_role.value, "active": old_active},
        after={"role": new_role.value, "active": new_active},
    )
    try:
        transact(entry, build)
    except TransactWriteError as error:
        if is_condition_failure(error) and delta < 0 and _active_admins(organization_id) <= 1:
            raise Conflict("An organization must keep at least one active admin.") from error
        if is_condition_failure(error):
            raise Conflict("The user changed meanwhile; retry.") from error
        raise
    if old_active and not new_active:
        revocation.revoke_all_for_user(organization_id, user_id, "deactivated")
    item.role, item.active, item.name = new_role.value, new_active, new_name
    return _to_user(item)


def organization_of_user(user_id: str) -> str | None:
    """The organization a user id belongs to, or None (one Query on the keys-only `by_user_id`
    index). Only containment asks, after a 404, to tell a cross-organization probe from an id
    that exists nowhere."""
    for item in IdentityItem.by_user_id.query(user_id, limit=1):
        return organization_of_key(item.pk)
    return None


def get_user(organization_id: str, user_id: str) -> User:
    """A user of the organization, or NotFound (also for other organizations' users)."""
    try:
        return _to_user(UserModel.get(org_pk(organization_id), f"{USER_PREFIX}{user_id}"))
    except DoesNotExist as error:
        raise NotFound() from error


def list_users(
    organization_id: str, *, limit: int = cursors.DEFAULT_LIMIT, cursor: str | None = None
) -> Page[User]:
    """The organization's users, a page at a time (one Query on its partition)."""
    page = cursors.query_page(
        UserModel,
        organization_id,
        "users",
        UserModel.sk.startswith(USER_PREFIX),
        limit=limit,
        cursor=cursor,
    )
    return Page([_to_user(item) for item in page.items], page.next_cursor)


# Where a login for an unknown e-mail looks for its user: a key no organization can have (an
# organization id is a slug), so both paths make the same two reads.
_NO_ORGANIZATION = "-"
_NO_USER = "0" * 32


def find_by_email(organization_id: str, email: str) -> User | None:
    """The user of this organization with this e-mail, or None (also for an address of another
    organization). The same two reads whether or not the address exists, like a login."""
    email_norm = normalize_email(email)
    try:
        claim = EmailClaimModel.get(f"{EMAIL_PREFIX}{email_norm}", "EMAIL", consistent_read=True)
        claimed_org, user_id = claim.organization_id, claim.user_id
    except DoesNotExist:
        claimed_org, user_id = _NO_ORGANIZATION, _NO_USER
    if claimed_org != organization_id:
        user_id = _NO_USER
    try:
        item = UserModel.get(org_pk(organization_id), f"{USER_PREFIX}{user_id}")
    except DoesNotExist:
        return None
    return _to_user(item)


def authenticate_password(email: str, password: str) -> User:
    """The active user with this e-mail and password, or Unauthenticated.

    A wrong password and an unknown e-mail take the same path: the e-mail claim read, one user
    read (of a key that cannot exist, for an unknown e-mail) and one bcrypt check at the same
    cost, so neither the answer nor its timing tells accounts apart. Failures are counted by the
    login limiter (keyed by the e-mail, known or not), never on the user item.
    """
    email_norm = normalize_email(email)
    try:
        claim = EmailClaimModel.get(f"{EMAIL_PREFIX}{email_norm}", "EMAIL")
        organization_id, user_id = claim.organization_id, claim.user_id
    except DoesNotExist:
        organization_id, user_id = _NO_ORGANIZATION, _NO_USER
    try:
        item: UserModel | None = UserModel.get(org_pk(organization_id), f"{USER_PREFIX}{user_id}")
    except DoesNotExist:
        item = None
    matches = verify_password(password, item.password_hash if item else dummy_hash())
    if item is None or not matches or not item.active:
        raise Unauthenticated("Invalid e-mail or password.")
    return _to_user(item)
