"""API-token verification: what the authorizer does with a `dgt_...` credential.

The token names its organization, owner and token id, so everything needed to verify it is read in
one keyed BatchGetItem (`identity.revocation.read_credential_state`): the token item (only the
SHA-256 of its secret is stored), its owner (exists, active, current role) and the owner's
revoke-all marker. A token acts with its owner's current role narrowed to its scopes.
"""

from __future__ import annotations

import hmac
import re
import time

from chalicelib.authz.principal import Principal, Role, TokenType
from chalicelib.core.errors import ForgedCredential, Unauthenticated
from chalicelib.core.observability import logger
from chalicelib.identity import revocation
from chalicelib.identity.api_token_format import TOKEN_MARKER, hash_secret, token_status
from chalicelib.identity.models import ApiTokenModel

_TOKEN = re.compile(
    r"^dgt_(?P<tid>[0-9a-f]{16})_(?P<org>[a-z0-9][a-z0-9-]{1,38}[a-z0-9])_"
    r"(?P<uid>[0-9a-f]{32})_(?P<secret>[A-Za-z0-9_-]{43})$"
)
LAST_USED_RESOLUTION_SECONDS = 60


def is_api_token(credential: str) -> bool:
    return credential.startswith(TOKEN_MARKER)


def _touch_last_used(item: ApiTokenModel, now: int) -> None:
    last = item.last_used_at
    if last is not None and now - int(last) < LAST_USED_RESOLUTION_SECONDS:
        return
    try:
        item.update(
            actions=[ApiTokenModel.last_used_at.set(now)],
            condition=ApiTokenModel.pk.exists(),
        )
    except Exception:
        logger.warning("could not record API token use", extra={"token_id": item.token_id})


def authenticate_api_token(credential: str) -> Principal:
    """The principal of a valid API token, or Unauthenticated (reason not disclosed)."""
    match = _TOKEN.fullmatch(credential)
    if match is None:
        raise Unauthenticated()
    org, uid, tid = match["org"], match["uid"], match["tid"]
    state = revocation.read_credential_state(org, uid, token_id=tid)
    item, user = state.api_token, state.user
    if item is None:
        raise Unauthenticated()
    if not hmac.compare_digest(item.secret_hash, hash_secret(credential)):
        raise ForgedCredential()  # a real token id with a guessed secret
    now = int(time.time())
    if item.user_id != uid or token_status(item, now) not in {"active", "rotating"}:
        raise Unauthenticated()
    if user is None or not user.active:
        raise Unauthenticated()
    if state.revoked_before_ms is not None and int(item.created_at_ms) < state.revoked_before_ms:
        raise Unauthenticated()
    _touch_last_used(item, now)
    expires = int(item.expires_at)
    if item.grace_until is not None:
        expires = min(expires, int(item.grace_until))
    return Principal(
        user_id=uid,
        organization_id=org,
        role=Role(user.role),
        token_type=TokenType.API_TOKEN,
        token_id=tid,
        scopes=frozenset(item.scopes.split()),
        expires_at=expires,
    )
