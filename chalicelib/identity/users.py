"""Organizations and users: repository functions (organization id first) and the identity service.

Repositories never decide permissions; the service functions take plain data and return plain
records. Admin user management (invite, role change, deactivate) builds on these.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import uuid
from collections.abc import Iterable
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
    DIRECTORY_BY_NAME,
    DIRECTORY_BY_TERM,
    EMAIL_PREFIX,
    USER_PREFIX,
    DirectoryEntryModel,
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
    """Create a user, claim their e-mail within the organization and write their directory
    entries, in one audited transaction.

    409 if the organization already has a user with the e-mail (other organizations' users are
    never looked at), 404 if the organization does not exist. Without a password (an invitation,
    or a customer added by an agent) the account gets an unusable one: a hash of random bytes
    nobody knows, until the user chooses theirs through a setup link; a login attempt costs what
    any wrong password costs.
    """
    user_id = uuid.uuid4().hex
    email_norm = normalize_email(email)
    if password is None:
        password = secrets.token_urlsafe(32)
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
        org_pk(organization_id),
        f"{EMAIL_PREFIX}{email_norm}",
        organization_id=organization_id,
        user_id=user_id,
    )

    def build(tx: TransactWrite) -> None:
        tx.save(item, condition=UserModel.pk.does_not_exist())
        tx.save(claim, condition=EmailClaimModel.sk.does_not_exist())
        for entry_item in directory_entries(item).values():
            tx.save(entry_item)
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

    old_entries = directory_entries(item)
    changed = UserModel(
        item.pk,
        item.sk,
        user_id=item.user_id,
        organization_id=organization_id,
        email=item.email,
        name=new_name,
        role=new_role.value,
        active=new_active,
    )
    new_entries = directory_entries(changed)

    def build(tx: TransactWrite) -> None:
        tx.update(
            item,
            actions=actions,
            condition=(UserModel.role == old_role.value) & (UserModel.active == old_active),
        )
        for sort_key in old_entries.keys() - new_entries.keys():
            tx.delete(old_entries[sort_key])
        for entry_item in new_entries.values():
            tx.save(entry_item)
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


def directory_entries(user: UserModel) -> dict[str, DirectoryEntryModel]:
    """The user's directory entries by sort key: by name and by each search term (name and
    e-mail), each once across all roles (`*`) and once under the user's role."""
    name_key = user.name.casefold()
    entries: dict[str, DirectoryEntryModel] = {}
    for role_part in ("*", user.role):
        keys = [(f"{DIRECTORY_BY_NAME}{role_part}#{name_key}#{user.user_id}", "name")]
        for kind, term in (("name", name_key), ("email", user.email)):
            keys.append((f"{DIRECTORY_BY_TERM}{role_part}#{term}#{kind}#{user.user_id}", kind))
        for sort_key, kind in keys:
            entries[sort_key] = DirectoryEntryModel(
                user.pk,
                sort_key,
                user_id=user.user_id,
                organization_id=user.organization_id,
                email=user.email,
                name=user.name,
                name_key=name_key,
                role=user.role,
                active=bool(user.active),
                kind=kind,
            )
    return entries


def _entry_user(entry: DirectoryEntryModel) -> User:
    return User(
        id=entry.user_id,
        organization_id=entry.organization_id,
        email=entry.email,
        name=entry.name,
        role=Role(entry.role),
        active=bool(entry.active),
    )


def search_term(text: str) -> str:
    """How a directory search term compares: trimmed and case-folded (like the stored keys)."""
    return text.strip().casefold()


def list_directory(
    organization_id: str,
    *,
    role: Role | None = None,
    q: str | None = None,
    limit: int = cursors.DEFAULT_LIMIT,
    cursor: str | None = None,
    binding: str = "directory",
) -> Page[User]:
    """The organization's people sorted by name, optionally only one role and only those whose
    name or e-mail starts with `q` (case-insensitive), a page at a time.

    Without `q`: one Query on the name entries. With `q`: a Query on the search-term entries
    from `q`; a user whose name and e-mail both start with `q` has two entries there, and a
    filter drops the e-mail one so each person appears once. Either way one Query per page; the
    cursor is bound to the organization, role and `q`.
    """
    role_part = "*" if role is None else role.value
    term = None if q is None else search_term(q)
    binding = f"{binding}|{role_part}|{term if term is not None else ''}"
    start = cursors.decode(organization_id, binding, cursor)
    if term is None:
        condition = DirectoryEntryModel.sk.startswith(f"{DIRECTORY_BY_NAME}{role_part}#")
        filter_condition = None
    else:
        condition = DirectoryEntryModel.sk.startswith(f"{DIRECTORY_BY_TERM}{role_part}#{term}")
        filter_condition = (DirectoryEntryModel.kind == "name") | ~(
            DirectoryEntryModel.name_key.startswith(term)
        )
    # Under `q` a person has at most two entries and the filter keeps one, so 2 x limit entries
    # evaluated always hold a full page: one Query, stopped at `limit` (pynamodb then resumes
    # the cursor from the last entry returned, not the last one evaluated).
    results = DirectoryEntryModel.query(
        org_pk(organization_id),
        condition,
        filter_condition=filter_condition,
        limit=limit,
        page_size=limit if filter_condition is None else 2 * limit,
        last_evaluated_key=start,
    )
    found = [_entry_user(entry) for entry in results]
    position = results.last_evaluated_key
    return Page(found, cursors.encode(organization_id, binding, position))


def display_names(organization_id: str, user_ids: Iterable[str | None]) -> dict[str, str]:
    """Display names of the organization's users among `user_ids` (None and repeats ignored):
    one BatchGetItem per 100 distinct ids, reading only the name. Ids of other organizations
    or of nobody are simply absent from the answer."""
    distinct = sorted({user_id for user_id in user_ids if user_id})
    if not distinct:
        return {}
    keys = [(org_pk(organization_id), f"{USER_PREFIX}{user_id}") for user_id in distinct]
    names: dict[str, str] = {}
    for item in UserModel.batch_get(keys, attributes_to_get=["user_id", "name"]):
        names[item.user_id] = item.name
    return names


def find_by_email(organization_id: str, email: str) -> User | None:
    """The organization's user with this e-mail (any role, active or not), or None. Reads only
    the organization's own claim and user items: it cannot see another organization's users.

    The same two reads whether or not the address exists (the claim, then the user, or a key that
    cannot exist), like a login: callers that must not tell addresses apart (the password-reset
    request) make the same DynamoDB calls either way."""
    slug = organization_id.strip().lower()
    partition = slug if _SLUG.match(slug) else _NO_ORGANIZATION
    try:
        claim = EmailClaimModel.get(org_pk(partition), f"{EMAIL_PREFIX}{normalize_email(email)}")
        user_partition, user_id = claim.organization_id, claim.user_id
    except DoesNotExist:
        user_partition, user_id = _NO_ORGANIZATION, _NO_USER
    try:
        item = UserModel.get(org_pk(user_partition), f"{USER_PREFIX}{user_id}")
    except DoesNotExist:
        return None
    return _to_user(item)


# Where a login for an unknown organization or e-mail looks for its user: a key no organization
# can have (an organization id is a slug), so every path makes the same two reads.
_NO_ORGANIZATION = "-"
_NO_USER = "0" * 32


def authenticate_password(organization_id: str, email: str, password: str) -> User:
    """The organization's active user with this e-mail and password, or Unauthenticated.

    An unknown organization, an unknown e-mail and a wrong password take the same path: the
    e-mail claim read (in the organization's partition, or one that cannot exist), one user
    read (of a key that cannot exist, when there is no claim) and one bcrypt check at the same
    cost, so neither the answer nor its timing tells organizations or accounts apart. Failures
    are counted by the login limiter (keyed by organization and e-mail, known or not), never on
    the user item.
    """
    email_norm = normalize_email(email)
    slug = organization_id.strip().lower()
    partition = slug if _SLUG.match(slug) else _NO_ORGANIZATION
    try:
        claim = EmailClaimModel.get(org_pk(partition), f"{EMAIL_PREFIX}{email_norm}")
        user_partition, user_id = claim.organization_id, claim.user_id
    except DoesNotExist:
        user_partition, user_id = _NO_ORGANIZATION, _NO_USER
    try:
        item: UserModel | None = UserModel.get(org_pk(user_partition), f"{USER_PREFIX}{user_id}")
    except DoesNotExist:
        item = None
    matches = verify_password(password, item.password_hash if item else dummy_hash())
    if item is None or not matches or not item.active:
        raise Unauthenticated("Invalid e-mail or password.")
    return _to_user(item)
