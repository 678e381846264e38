"""Identity tables: organizations, users and the e-mail claims that keep e-mails unique.

One `identity` table with generic `pk`/`sk` keys. Users live under their organization's partition
(`ORG#<org>` / `USER#<id>`), so listing an organization's users is a Query on one partition. An
e-mail claim item (`EMAIL#<lowercased>` / `EMAIL`) is written in the same transaction as the user,
with `attribute_not_exists`, which makes e-mails unique per deployment without a racy index.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

ORG_PREFIX = "ORG#"
USER_PREFIX = "USER#"
EMAIL_PREFIX = "EMAIL#"


def org_pk(organization_id: str) -> str:
    return f"{ORG_PREFIX}{organization_id}"


class IdentityItem(Model):
    """Base of every item in the identity table (key schema in one place)."""

    Meta = table_meta("identity")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class OrganizationModel(IdentityItem):
    """`ORG#<org>` / `ORG`."""

    Meta = table_meta("identity")
    organization_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class UserModel(IdentityItem):
    """`ORG#<org>` / `USER#<id>`."""

    Meta = table_meta("identity")
    user_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    failed_logins = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()


class EmailClaimModel(IdentityItem):
    """`EMAIL#<lowercased e-mail>` / `EMAIL`: points at the user that owns the address."""

    Meta = table_meta("identity")
    organization_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
