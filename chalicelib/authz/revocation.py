"""Revoke every credential of a user (containment, admin action).

MINIMAL VERSION from the events branch: the identity branch owns revocation and replaces this
module at merge; `revoke_all_for_user` keeps its signature. Here a marker item
(`ORG#<org>` / `REVOKED#USER#<id>`) records `revoked_before` (epoch seconds): the authorizer
refuses any session issued at or before it, and the marker flags the account for admin review.
The marker and its audit record are written in one transaction.
"""

from __future__ import annotations

import time

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.authz.models import IdentityItem, org_pk
from chalicelib.core.dynamo import table_meta
from chalicelib.security_events import audit

MARKER_PREFIX = "REVOKED#USER#"
SYSTEM_ACTOR = "system:containment"


class RevocationMarkerModel(IdentityItem):
    """`ORG#<org>` / `REVOKED#USER#<id>`."""

    Meta = table_meta("identity")
    revoked_before = NumberAttribute()
    reason = UnicodeAttribute()
    review_required = BooleanAttribute(default=True)


def revoke_all_for_user(organization_id: str, user_id: str, reason: str) -> None:
    """Invalidate every session the user holds now and flag the account for admin review."""
    marker = RevocationMarkerModel(
        org_pk(organization_id),
        f"{MARKER_PREFIX}{user_id}",
        revoked_before=int(time.time()),
        reason=reason[:200],
        review_required=True,
    )
    audit.transact(
        audit.AuditEntry(
            organization_id=organization_id,
            actor_id=SYSTEM_ACTOR,
            action="user.credentials_revoked",
            target_type="user",
            target_id=user_id,
            after={"reason": reason[:200], "reviewRequired": True},
        ),
        lambda tx: tx.save(marker),
    )


def is_revoked(organization_id: str, user_id: str, issued_at: int) -> bool:
    """True when a credential issued at `issued_at` (epoch seconds) was revoked since."""
    try:
        marker = RevocationMarkerModel.get(
            org_pk(organization_id), f"{MARKER_PREFIX}{user_id}", consistent_read=True
        )
    except DoesNotExist:
        return False
    return issued_at <= int(marker.revoked_before)
