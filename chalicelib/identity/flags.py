"""Security flags: the review queue of principals that containment cut off.

Containment (`chalicelib/auth/containment.py`) raises a flag when it revokes a credential or a
whole account; admins list the organization's flags and clear them after review
(`/api/admin/security/flags`). Raising, listing and clearing are each audited. Clearing does not
revive what was revoked: a revoked session or API token stays dead, the user logs in again or an
admin issues a new token.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.org_keys import org_pk
from chalicelib.identity.models import FLAG_PREFIX, SecurityFlagModel

CONTAINMENT_ACTOR = "system:containment"
_FLAG_ID = re.compile(r"^[0-9a-f]{32}$")


def flag_id_for(subject_type: str, subject_id: str) -> str:
    """The flag id of a subject: the same credential or account is flagged once."""
    return hashlib.sha256(f"{subject_type}:{subject_id}".encode()).hexdigest()[:32]


def raise_flag(
    organization_id: str,
    *,
    user_id: str,
    subject_type: str,
    subject_id: str,
    kind: str,
    signals: int,
) -> bool:
    """Flag a contained principal (audited); False if it is already flagged and not cleared."""
    from chalicelib.audit.trail import AuditEntry, transact  # writes only: off the read path

    flag_id = flag_id_for(subject_type, subject_id)
    item = SecurityFlagModel(
        org_pk(organization_id),
        f"{FLAG_PREFIX}{flag_id}",
        flag_id=flag_id,
        organization_id=organization_id,
        user_id=user_id,
        subject_type=subject_type,
        subject_id=subject_id,
        kind=kind,
        signals=signals,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
    )
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=CONTAINMENT_ACTOR,
        action="security.flag_raised",
        target_type=subject_type,
        target_id=subject_id,
        after={"flagId": flag_id, "userId": user_id, "kind": kind, "signals": signals},
    )
    try:
        transact(
            entry,
            lambda tx: tx.save(
                item,
                # A cleared flag of the same subject is raised again (a new incident).
                condition=SecurityFlagModel.pk.does_not_exist()
                | SecurityFlagModel.cleared_at.exists(),
            ),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            return False
        raise
    return True


def list_flags(
    organization_id: str, *, actor_id: str, limit: int, cursor: str | None
) -> Page[SecurityFlagModel]:
    """The organization's flags, a page at a time (one Query); the viewing is audited."""
    from chalicelib.audit.trail import AuditEntry, transact  # writes only: off the read path

    page: Page[SecurityFlagModel] = cursors.query_page(
        SecurityFlagModel,
        organization_id,
        "security-flags",
        SecurityFlagModel.sk.startswith(FLAG_PREFIX),
        limit=limit,
        cursor=cursor,
    )
    transact(
        AuditEntry(
            organization_id=organization_id,
            actor_id=actor_id,
            action="security.flags_listed",
            target_type="security_flags",
            target_id=organization_id,
            after={"count": len(page.items)},
        )
    )
    return page


def clear_flag(organization_id: str, flag_id: str, *, actor_id: str) -> SecurityFlagModel:
    """Mark a flag reviewed (audited); 404 if unknown, 409 if already cleared."""
    from chalicelib.audit.trail import AuditEntry, transact  # writes only: off the read path

    if not _FLAG_ID.fullmatch(flag_id):
        raise NotFound()
    try:
        item = SecurityFlagModel.get(
            org_pk(organization_id), f"{FLAG_PREFIX}{flag_id}", consistent_read=True
        )
    except DoesNotExist as error:
        raise NotFound() from error
    if item.cleared_at:
        raise Conflict("This flag was already cleared.")
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="security.flag_cleared",
        target_type=item.subject_type,
        target_id=item.subject_id,
        before={"flagId": flag_id, "status": "open"},
        after={"flagId": flag_id, "status": "cleared"},
    )
    try:
        transact(
            entry,
            lambda tx: tx.update(
                item,
                actions=[
                    SecurityFlagModel.cleared_at.set(now),
                    SecurityFlagModel.cleared_by.set(actor_id),
                ],
                condition=SecurityFlagModel.cleared_at.does_not_exist(),
            ),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise Conflict("This flag was already cleared.") from error
        raise
    item.cleared_at, item.cleared_by = now, actor_id
    return item
