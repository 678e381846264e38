"""API tokens: creation, listing, rotation, revocation (`auth/api_tokens.py` verifies them).

A token reads `dgt_<token id>_<organization id>_<owner user id>_<secret>`. The identifying parts
let the authorizer fetch everything in one keyed read (no index, no scan); only the SHA-256 of the
256-bit random secret is stored (a fast hash is right for a random secret: there is nothing to
brute-force). `dgt_<token id>` is the recognizable prefix shown in listings and logs.

A token acts as its owner with the owner's CURRENT role, narrowed to its scopes: the RBAC check
(`policy.check`) requires both the role and the scope, so effective rights are the intersection.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit.trail import AuditEntry, transact
from chalicelib.authz.policy import SCOPES
from chalicelib.authz.principal import Principal, TokenType
from chalicelib.core import cursors
from chalicelib.core.cursors import Page
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity import revocation
from chalicelib.identity.api_token_format import TOKEN_MARKER, hash_secret, token_status
from chalicelib.identity.models import API_TOKEN_PREFIX, ApiTokenModel
from chalicelib.security_events import emit


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    """A newly created token: `secret` is the full token string, shown once."""

    secret: str
    item: ApiTokenModel


def effective_status(
    item: ApiTokenModel, owner: revocation.OwnerState | None, now: int | None = None
) -> str:
    """`token_status`, plus what happened to the owner: a token of a deactivated or missing
    owner, or created before the owner's revoke-all marker (deactivation, containment), is
    `revoked` although its own item was never touched; reactivation does not revive it."""
    status = token_status(item, now)
    if status not in {"active", "rotating"}:
        return status
    if owner is None or not owner.active:
        return "revoked"
    if owner.revoked_before_ms is not None and int(item.created_at_ms) < owner.revoked_before_ms:
        return "revoked"
    return status


@dataclasses.dataclass(frozen=True)
class ListedToken:
    """A stored token as a listing shows it: with its effective status."""

    item: ApiTokenModel
    status: str


def validate_request(scopes: list[str], expires_in_days: int) -> frozenset[str]:
    """Scopes must be known and non-empty; expiry required, 1..API_TOKEN_MAX_DAYS days."""
    unknown = sorted(set(scopes) - SCOPES)
    if unknown or not scopes:
        raise ValidationFailed(
            "Unknown or missing scopes.",
            details=[{"field": "scopes", "message": f"allowed: {' '.join(sorted(SCOPES))}"}],
        )
    max_days = get_settings().api_token_max_days
    if not 1 <= expires_in_days <= max_days:
        raise ValidationFailed(
            f"expiresInDays must be between 1 and {max_days}.",
            details=[{"field": "expiresInDays", "message": "out of range"}],
        )
    return frozenset(scopes)


def _new_item(
    *,
    organization_id: str,
    owner_id: str,
    created_by: str,
    name: str,
    scopes: frozenset[str],
    expires_at: int,
) -> tuple[str, ApiTokenModel]:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    full = f"{TOKEN_MARKER}{token_id}_{organization_id}_{owner_id}_{secret}"
    item = ApiTokenModel(
        org_pk(organization_id),
        f"{API_TOKEN_PREFIX}{token_id}",
        token_id=token_id,
        organization_id=organization_id,
        user_id=owner_id,
        created_by=created_by,
        name=name,
        prefix=f"{TOKEN_MARKER}{token_id}",
        secret_hash=hash_secret(full),
        scopes=" ".join(sorted(scopes)),
        created_at_ms=revocation.now_ms(),
        expires_at=expires_at,
    )
    return full, item


def _audit(principal: Principal, action: str, item: ApiTokenModel) -> AuditEntry:
    return AuditEntry(
        organization_id=item.organization_id,
        actor_id=principal.user_id,
        action=action,
        target_type="api_token",
        target_id=item.token_id,
        after={"prefix": item.prefix, "scopes": item.scopes, "expires": int(item.expires_at)},
    )


def create_token(
    principal: Principal, *, name: str, scopes: list[str], expires_in_days: int
) -> IssuedToken:
    """Create a token owned by the caller, within the caller's organization (audited)."""
    wanted = validate_request(scopes, expires_in_days)
    expires_at = int(time.time()) + expires_in_days * 86400
    full, item = _new_item(
        organization_id=principal.organization_id,
        owner_id=principal.user_id,
        created_by=principal.user_id,
        name=name,
        scopes=wanted,
        expires_at=expires_at,
    )
    transact(
        _audit(principal, "api_token.create", item),
        lambda tx: tx.save(item, condition=ApiTokenModel.pk.does_not_exist()),
    )
    emit(
        "security.token_lifecycle",
        action="created",
        token_type=TokenType.API_TOKEN.value,
        token_id=item.token_id,
        token_prefix=item.prefix,
    )
    return IssuedToken(secret=full, item=item)


def get_token(organization_id: str, token_id: str) -> ApiTokenModel:
    """A token of the organization, or NotFound (also for other organizations' tokens)."""
    if not re.fullmatch(r"[0-9a-f]{16}", token_id):
        raise NotFound()
    try:
        return ApiTokenModel.get(
            org_pk(organization_id), f"{API_TOKEN_PREFIX}{token_id}", consistent_read=True
        )
    except DoesNotExist as error:
        raise NotFound() from error


def list_tokens(
    organization_id: str, *, limit: int = cursors.DEFAULT_LIMIT, cursor: str | None = None
) -> Page[ListedToken]:
    """The organization's tokens, a page at a time (one Query on its partition)."""
    page = cursors.query_page(
        ApiTokenModel,
        organization_id,
        "tokens",
        ApiTokenModel.sk.startswith(API_TOKEN_PREFIX),
        limit=limit,
        cursor=cursor,
    )
    owners = revocation.read_owner_states(organization_id, [item.user_id for item in page.items])
    items = [
        ListedToken(item, effective_status(item, owners.get(item.user_id))) for item in page.items
    ]
    return Page(items, page.next_cursor)


def rotate_token(principal: Principal, token_id: str) -> IssuedToken:
    """Issue a successor (same owner, name, scopes, lifetime) and put the old one on grace."""
    if not re.fullmatch(r"[0-9a-f]{16}", token_id):
        raise NotFound()
    # One read: the token, its owner and the owner's revoke-all marker.
    stub = get_token(principal.organization_id, token_id)
    state = revocation.read_credential_state(
        principal.organization_id, stub.user_id, token_id=token_id
    )
    old = state.api_token
    if old is None:
        raise NotFound()
    owner = (
        None
        if state.user is None
        else revocation.OwnerState(bool(state.user.active), state.revoked_before_ms)
    )
    if effective_status(old, owner) != "active":
        # A token cut off by deactivation or containment stays dead: no successor for it.
        raise Conflict("Only an active token can be rotated.")
    now = int(time.time())
    lifetime = max(86400, int(old.expires_at) - int(old.created_at_ms) // 1000)
    lifetime = min(lifetime, get_settings().api_token_max_days * 86400)
    full, new = _new_item(
        organization_id=old.organization_id,
        owner_id=old.user_id,
        created_by=principal.user_id,
        name=old.name,
        scopes=frozenset(old.scopes.split()),
        expires_at=now + lifetime,
    )
    new.predecessor_id = old.token_id
    grace_until = min(int(old.expires_at), now + get_settings().api_token_rotation_grace_seconds)

    def build(tx: TransactWrite) -> None:
        tx.save(new, condition=ApiTokenModel.pk.does_not_exist())
        tx.update(
            old,
            actions=[
                ApiTokenModel.grace_until.set(grace_until),
                ApiTokenModel.successor_id.set(new.token_id),
            ],
            condition=ApiTokenModel.successor_id.does_not_exist()
            & ApiTokenModel.revoked_at.does_not_exist(),
        )

    # The record names the rotated token (its history shows the move to grace) and its successor.
    entry = AuditEntry(
        organization_id=old.organization_id,
        actor_id=principal.user_id,
        action="api_token.rotate",
        target_type="api_token",
        target_id=old.token_id,
        before={"status": "active"},
        after={
            "status": "rotating",
            "graceUntil": grace_until,
            "successorId": new.token_id,
            "successorPrefix": new.prefix,
            "scopes": new.scopes,
            "expires": int(new.expires_at),
        },
    )
    try:
        transact(entry, build)
    except TransactWriteError as error:
        if is_condition_failure(error):
            raise Conflict("The token was rotated or revoked meanwhile.") from error
        raise
    emit(
        "security.token_lifecycle",
        action="rotated",
        token_type=TokenType.API_TOKEN.value,
        token_id=old.token_id,
        token_prefix=new.prefix,
    )
    return IssuedToken(secret=full, item=new)


def revoke_token(principal: Principal, token_id: str) -> None:
    """Revoke a token at once (idempotent; audited the first time)."""
    item = get_token(principal.organization_id, token_id)
    if item.revoked_at is not None:
        return
    now = int(time.time())
    try:
        transact(
            _audit(principal, "api_token.revoke", item),
            lambda tx: tx.update(
                item,
                actions=[ApiTokenModel.revoked_at.set(now)],
                condition=ApiTokenModel.revoked_at.does_not_exist(),
            ),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            return  # revoked concurrently: the outcome is the same
        raise
    emit(
        "security.token_lifecycle",
        action="revoked",
        token_type=TokenType.API_TOKEN.value,
        token_id=item.token_id,
        token_prefix=item.prefix,
    )


def revoke_token_by_system(
    organization_id: str, token_id: str, *, reason: str, actor_id: str
) -> bool:
    """Revoke one token for the system (containment), audited; False if already revoked."""
    item = get_token(organization_id, token_id)
    if item.revoked_at is not None:
        return False
    now = int(time.time())
    entry = AuditEntry(
        organization_id=organization_id,
        actor_id=actor_id,
        action="api_token.revoke",
        target_type="api_token",
        target_id=item.token_id,
        after={"prefix": item.prefix, "reason": reason[:200]},
    )
    try:
        transact(
            entry,
            lambda tx: tx.update(
                item,
                actions=[
                    ApiTokenModel.revoked_at.set(now),
                    ApiTokenModel.revoked_reason.set(reason[:200]),
                ],
                condition=ApiTokenModel.revoked_at.does_not_exist(),
            ),
        )
    except TransactWriteError as error:
        if is_condition_failure(error):
            return False
        raise
    emit(
        "security.token_lifecycle",
        action="revoked",
        reason=reason,
        token_type=TokenType.API_TOKEN.value,
        token_id=item.token_id,
        token_prefix=item.prefix,
    )
    return True
