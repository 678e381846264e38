"""Revocation: the `revocations` table (the authorizer's denylist) and the one read it makes.

Items, all under the organization's partition `ORG#<org>`:
- `JTI#<jti>`: a session revoked at logout; `expires_at` (DynamoDB TTL) is the token's own expiry,
  after which the signature check refuses it anyway and the item can go.
- `USER#<user id>`: "revoked before" marker. Every session issued (`iat`) and every API token
  created before `revoked_before_ms` is dead. Written by `revoke_all_for_user` (incident
  containment, deactivation). Its TTL outlives the longest credential that could predate it.

The authorizer reads everything it needs about a credential in ONE BatchGetItem over the identity
and revocations tables (`read_credential_state`): the user item (exists, active, current role),
the user marker, and the jti item (sessions) or the API token item (API tokens). Reads are
strongly consistent, so a revocation acts on the very next request.
"""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from chalicelib.authz.principal import TokenType
from chalicelib.core.dynamo import connection
from chalicelib.core.observability import current_context
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings
from chalicelib.identity.models import (
    API_TOKEN_PREFIX,
    USER_PREFIX,
    ApiTokenModel,
    IdentityItem,
    RevocationItem,
    RevokedSessionModel,
    UserModel,
    UserRevocationModel,
)
from chalicelib.security_events import emit

if TYPE_CHECKING:
    from pynamodb.transactions import TransactWrite

JTI_PREFIX = "JTI#"
_BATCH_ATTEMPTS = 3
_MARKER_MARGIN_SECONDS = 86400


@dataclasses.dataclass(frozen=True)
class CredentialState:
    """What the one read returned about a credential's user and the credential itself."""

    user: UserModel | None
    revoked_before_ms: int | None
    jti_revoked: bool
    api_token: ApiTokenModel | None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _client() -> Any:
    """The botocore DynamoDB client of this process (pynamodb's, with its timeouts)."""
    return connection().client


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def read_credential_state(
    organization_id: str,
    user_id: str,
    *,
    jti: str | None = None,
    token_id: str | None = None,
) -> CredentialState:
    """One strongly consistent BatchGetItem for everything the authorizer checks."""
    pk = org_pk(organization_id)
    identity_table = IdentityItem.Meta.table_name
    revocations_table = RevocationItem.Meta.table_name
    identity_keys = [_key(pk, f"{USER_PREFIX}{user_id}")]
    if token_id is not None:
        identity_keys.append(_key(pk, f"{API_TOKEN_PREFIX}{token_id}"))
    revocation_keys = [_key(pk, f"{USER_PREFIX}{user_id}")]
    if jti is not None:
        revocation_keys.append(_key(pk, f"{JTI_PREFIX}{jti}"))
    request: dict[str, Any] = {
        identity_table: {"Keys": identity_keys, "ConsistentRead": True},
        revocations_table: {"Keys": revocation_keys, "ConsistentRead": True},
    }
    found: dict[str, list[dict[str, Any]]] = {identity_table: [], revocations_table: []}
    for _ in range(_BATCH_ATTEMPTS):
        response = _client().batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            found[table].extend(items)
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
    else:
        # Fail closed: the caller turns this into an authorizer failure, never an allow.
        raise RuntimeError("credential state read left unprocessed keys")

    user: UserModel | None = None
    api_token: ApiTokenModel | None = None
    for raw in found[identity_table]:
        sk = raw["sk"]["S"]
        if sk.startswith(USER_PREFIX):
            user = UserModel.from_raw_data(raw)
        elif sk.startswith(API_TOKEN_PREFIX):
            api_token = ApiTokenModel.from_raw_data(raw)
    revoked_before_ms: int | None = None
    jti_revoked = False
    for raw in found[revocations_table]:
        sk = raw["sk"]["S"]
        if sk.startswith(USER_PREFIX):
            revoked_before_ms = int(UserRevocationModel.from_raw_data(raw).revoked_before_ms)
        elif sk.startswith(JTI_PREFIX):
            jti_revoked = True
    return CredentialState(
        user=user, revoked_before_ms=revoked_before_ms, jti_revoked=jti_revoked, api_token=api_token
    )


@dataclasses.dataclass(frozen=True)
class OwnerState:
    """What decides whether a user's API tokens are still alive."""

    active: bool
    revoked_before_ms: int | None


def read_owner_states(organization_id: str, user_ids: list[str]) -> dict[str, OwnerState]:
    """Each user's active flag and revoke-all marker (BatchGetItem, 50 users per call).

    For token listings: a token created before its owner's marker, or owned by a deactivated
    user, is dead even though its own item was never touched. Missing users are absent.
    """
    pk = org_pk(organization_id)
    identity_table = IdentityItem.Meta.table_name
    revocations_table = RevocationItem.Meta.table_name
    wanted = list(dict.fromkeys(user_ids))
    active: dict[str, bool] = {}
    markers: dict[str, int] = {}
    for start in range(0, len(wanted), 50):
        keys = [_key(pk, f"{USER_PREFIX}{uid}") for uid in wanted[start : start + 50]]
        request: dict[str, Any] = {
            identity_table: {"Keys": keys, "ConsistentRead": True},
            revocations_table: {"Keys": keys, "ConsistentRead": True},
        }
        for _ in range(_BATCH_ATTEMPTS):
            response = _client().batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(identity_table, []):
                user = UserModel.from_raw_data(raw)
                active[user.user_id] = bool(user.active)
            for raw in response.get("Responses", {}).get(revocations_table, []):
                marker = UserRevocationModel.from_raw_data(raw)
                markers[marker.user_id] = int(marker.revoked_before_ms)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("owner state read left unprocessed keys")
    return {uid: OwnerState(active[uid], markers.get(uid)) for uid in active}


def revoke_session(organization_id: str, user_id: str, jti: str, expires_at: int) -> None:
    """Deny one session (logout). The item lives until the token would have expired anyway."""
    ttl = expires_at or int(time.time()) + get_settings().session_ttl_seconds
    RevokedSessionModel(
        org_pk(organization_id),
        f"{JTI_PREFIX}{jti}",
        user_id=user_id,
        revoked_at=int(time.time()),
        expires_at=datetime.fromtimestamp(ttl + 60, UTC),
    ).save()
    emit(
        "security.token_lifecycle",
        action="session_revoked",
        token_type=TokenType.SESSION.value,
        target_id=user_id,
    )


def revoke_all_for_user(
    organization_id: str, user_id: str, reason: str, *, actor_id: str | None = None
) -> None:
    """Revoke every session and API token of a user issued before now (audited).

    Credentials issued afterwards (a new login, a new token) work again unless the user is
    deactivated. Acts on the very next request: the authorizer reads this marker on every call.
    `actor_id` names who revoked (default: the caller); automated containment passes its own.
    """
    from chalicelib.audit.trail import AuditEntry, transact  # writes only: off the read path

    settings = get_settings()
    revoked_before = now_ms()
    longest = max(settings.session_ttl_seconds, settings.api_token_max_days * 86400)
    marker = UserRevocationModel(
        org_pk(organization_id),
        f"{USER_PREFIX}{user_id}",
        user_id=user_id,
        revoked_before_ms=revoked_before,
        reason=reason[:200],
        expires_at=datetime.fromtimestamp(
            revoked_before / 1000 + longest + _MARKER_MARGIN_SECONDS, UTC
        ),
    )

    def build(tx: TransactWrite) -> None:
        tx.save(marker)

    transact(
        AuditEntry(
            organization_id=organization_id,
            actor_id=actor_id or current_context().user_id or "system",
            action="user.revoke_all_credentials",
            target_type="user",
            target_id=user_id,
            after={"reason": reason[:200], "revokedBeforeMs": revoked_before},
        ),
        build,
    )
    emit(
        "security.token_lifecycle",
        action="revoke_all",
        reason=reason,
        target_type="user",
        target_id=user_id,
        target_organization_id=organization_id,
    )
