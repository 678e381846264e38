"""Identity tables: organizations, users, the e-mail claims and the directory entries.

One `identity` table with generic `pk`/`sk` keys. Everything an organization owns lives under
its partition `ORG#<org>`: the user (`USER#<id>`), the user's e-mail claim (`EMAIL#<lowercased>`,
written in the same transaction with `attribute_not_exists`, so an address is unique within the
organization and the same address may exist in another one), and the user's directory entries
(`DIRN#...` / `DIRQ#...`, copies of the public fields sorted by name or by search term, which let
the directory list, filter by role and search by prefix with one Query and no Scan).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

USER_PREFIX = "USER#"
EMAIL_PREFIX = "EMAIL#"
# Directory entries: `DIRN#<role|*>#<name>#<id>` (by name) and
# `DIRQ#<role|*>#<term>#<kind>#<id>` (by name and by e-mail, for prefix search).
DIRECTORY_BY_NAME = "DIRN#"
DIRECTORY_BY_TERM = "DIRQ#"
API_TOKEN_PREFIX = "APITOKEN#"  # noqa: S105 (a key prefix)


class ByUserIdIndex(GlobalSecondaryIndex["IdentityItem"]):  # type: ignore[no-untyped-call]
    """User id -> its organization, for containment only: after a 404 on a user route, one
    Query tells a probe of another organization's user from an id that exists nowhere."""

    Meta = type("Meta", (), {"index_name": "by_user_id", "projection": KeysOnlyProjection()})
    gsi_user = UnicodeAttribute(hash_key=True)


class IdentityItem(Model):
    """Base of every item in the identity table (key schema in one place)."""

    Meta = table_meta("identity")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    gsi_user = UnicodeAttribute(null=True)  # set on user items only
    by_user_id = ByUserIdIndex()


class OrganizationModel(IdentityItem):
    """`ORG#<org>` / `ORG`."""

    Meta = table_meta("identity")
    organization_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    # Active ADMIN users; a conditional decrement keeps the last admin from being removed.
    active_admins = NumberAttribute(default=0)
    # Which tickets agents see: "organization" (absent: the default) or "groups".
    agent_ticket_visibility = UnicodeAttribute(null=True)


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
    # No longer written: failed logins are counted by the login limiter, keyed by the e-mail, so
    # a wrong password and an unknown e-mail cost the same calls (kept for existing items).
    failed_logins = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    last_failed_login_at = NumberAttribute(null=True)  # epoch seconds; no longer written
    # Sessions issued before this time (epoch ms) are dead: set by every role change, so a
    # session from before a demotion does not come back to life when the role is restored.
    sessions_valid_from_ms = NumberAttribute(null=True)
    # Bumped by every password change: a one-time token records the version it was issued
    # under and is refused once the password has changed since (absent on older items: 0).
    password_version = NumberAttribute(null=True)
    # The notification kinds the user turned off (absent: every kind on). Written by
    # `chalicelib.identity.notification_preferences` only.
    notifications_off = UnicodeSetAttribute(null=True)


ONE_TIME_TOKEN_PREFIX = "OTT#"  # noqa: S105 (a key prefix)


class OneTimeTokenModel(IdentityItem):
    """`ORG#<org>` / `OTT#<SHA-256 of the token>`: a password reset or setup (invitation) token.

    Only the hash is stored. Bound to one user of one organization and to the user's password
    version when it was issued; `used_at` is set by the one conditional write that consumes it.
    Times are epoch seconds; DynamoDB's TTL removes the item a day after it expired.
    """

    Meta = table_meta("identity")
    organization_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    purpose = UnicodeAttribute()  # `reset` | `setup`
    password_version = NumberAttribute()
    created_at = NumberAttribute()
    expires_at = NumberAttribute()
    used_at = NumberAttribute(null=True)
    purge_at = TTLAttribute(null=True)


class EmailClaimModel(IdentityItem):
    """`ORG#<org>` / `EMAIL#<lowercased e-mail>`: points at the organization's user with the
    address. Keyed within the organization: another organization's claims are never read."""

    Meta = table_meta("identity")
    organization_id = UnicodeAttribute()
    user_id = UnicodeAttribute()


class DirectoryEntryModel(IdentityItem):
    """`ORG#<org>` / `DIRN#...` or `DIRQ#...`: one user's public fields under a sort key that
    orders the directory (by name, or by a search term). Rewritten with the user item in the
    same transaction on every change, so the directory never disagrees with the users."""

    Meta = table_meta("identity")
    user_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    name_key = UnicodeAttribute()  # the name case-folded (the search dedup filter reads it)
    role = UnicodeAttribute()
    active = BooleanAttribute()
    kind = UnicodeAttribute()  # `name` or `email`: which term the sort key holds


class ApiTokenModel(IdentityItem):
    """`ORG#<org>` / `APITOKEN#<token id>`: an API token; only the SHA-256 of its secret is kept.

    `user_id` is the token's owner (its creator): the token acts with that user's current role,
    narrowed to `scopes`. Times are epoch seconds, except `created_at_ms` (compared with the
    per-user "revoked before" marker, which has millisecond precision).
    """

    Meta = table_meta("identity")
    token_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    created_by = UnicodeAttribute()
    name = UnicodeAttribute()
    prefix = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    scopes = UnicodeAttribute()  # space-separated
    created_at_ms = NumberAttribute()
    expires_at = NumberAttribute()
    last_used_at = NumberAttribute(null=True)
    revoked_at = NumberAttribute(null=True)
    grace_until = NumberAttribute(null=True)  # set on the predecessor when rotated
    successor_id = UnicodeAttribute(null=True)
    predecessor_id = UnicodeAttribute(null=True)
    revoked_reason = UnicodeAttribute(null=True)  # e.g. `containment:<kind>`


# --- The revocations table: the authorizer's denylist (see identity/revocation.py) ---------


class RevocationItem(Model):
    """Base of the revocations table's items (key schema and TTL attribute in one place)."""

    Meta = table_meta("revocations")
    pk = UnicodeAttribute(hash_key=True)  # ORG#<org>
    sk = UnicodeAttribute(range_key=True)  # JTI#<jti> | USER#<user id>
    expires_at = TTLAttribute(null=True)


class RevokedSessionModel(RevocationItem):
    Meta = table_meta("revocations")
    user_id = UnicodeAttribute()
    revoked_at = NumberAttribute()


class UserRevocationModel(RevocationItem):
    Meta = table_meta("revocations")
    user_id = UnicodeAttribute()
    revoked_before_ms = NumberAttribute()
    reason = UnicodeAttribute()


FLAG_PREFIX = "FLAG#"


class SecurityFlagModel(IdentityItem):
    """`ORG#<org>` / `FLAG#<flag id>`: a principal that containment cut off, awaiting review.

    `subject_type` is `session`, `api_token` (that one credential was revoked) or `user` (every
    credential of the account was revoked). The flag id is derived from the subject, so the same
    credential is flagged once; clearing it records who reviewed it and when.
    """

    Meta = table_meta("identity")
    flag_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    subject_type = UnicodeAttribute()
    subject_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    signals = NumberAttribute()
    created_at = UnicodeAttribute()
    cleared_at = UnicodeAttribute(null=True)
    cleared_by = UnicodeAttribute(null=True)
