"""Organizations and users: repository functions (organization id first) and the identity service.

Repositories never decide permissions; the service functions take plain data and return plain
records. Admin user management (invite, role change, deactivate) builds on these.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime

from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.authz.models import (
    EMAIL_PREFIX,
    USER_PREFIX,
    EmailClaimModel,
    OrganizationModel,
    UserModel,
    org_pk,
)
from chalicelib.authz.passwords import burn_dummy_check, hash_password, verify_password
from chalicelib.authz.principal import Role
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound, Unauthenticated
from chalicelib.core.settings import get_settings

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

    def public(self) -> dict[str, str]:
        """The contract's user representation."""
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "role": self.role.value,
            "organizationId": self.organization_id,
        }


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


def _connection() -> Connection:
    return Connection(region=get_settings().region)


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


def create_user(organization_id: str, *, email: str, name: str, role: Role, password: str) -> User:
    """Create a user and claim their e-mail in one transaction (409 if the e-mail is taken)."""
    user_id = uuid.uuid4().hex
    email_norm = normalize_email(email)
    item = UserModel(
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        user_id=user_id,
        organization_id=organization_id,
        email=email_norm,
        name=name,
        role=role.value,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
        created_at=datetime.now(UTC),
    )
    claim = EmailClaimModel(
        f"{EMAIL_PREFIX}{email_norm}", "EMAIL", organization_id=organization_id, user_id=user_id
    )
    try:
        with TransactWrite(connection=_connection()) as tx:
            tx.save(item, condition=UserModel.pk.does_not_exist())
            tx.save(claim, condition=EmailClaimModel.pk.does_not_exist())
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise Conflict("A user with this e-mail already exists.") from error
        raise
    return _to_user(item)


def get_user(organization_id: str, user_id: str) -> User:
    """A user of the organization, or NotFound (also for other organizations' users)."""
    try:
        return _to_user(UserModel.get(org_pk(organization_id), f"{USER_PREFIX}{user_id}"))
    except DoesNotExist as error:
        raise NotFound() from error


def list_users(organization_id: str) -> list[User]:
    """Every user of one organization (one Query on its partition)."""
    return [
        _to_user(item)
        for item in UserModel.query(org_pk(organization_id), UserModel.sk.startswith(USER_PREFIX))
    ]


def authenticate_password(email: str, password: str) -> User:
    """The active user with this e-mail and password, or Unauthenticated.

    Unknown e-mails still pay for one bcrypt check, so timing does not tell accounts apart.
    """
    email_norm = normalize_email(email)
    try:
        claim = EmailClaimModel.get(f"{EMAIL_PREFIX}{email_norm}", "EMAIL")
        item = UserModel.get(org_pk(claim.organization_id), f"{USER_PREFIX}{claim.user_id}")
    except DoesNotExist:
        burn_dummy_check(password)
        raise Unauthenticated("Invalid e-mail or password.") from None
    if not verify_password(password, item.password_hash) or not item.active:
        raise Unauthenticated("Invalid e-mail or password.")
    return _to_user(item)
