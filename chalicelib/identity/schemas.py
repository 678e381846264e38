"""Response schemas of the identity routes (users, login, API tokens): `XOut.dump(...)` is the
body (see `chalicelib.core.schemas`), the OpenAPI document and the fuzzer's oracle."""

from __future__ import annotations

from typing import Any, Literal, Self

from chalicelib.authz.principal import Role
from chalicelib.core.schemas import Out
from chalicelib.identity.api_tokens import token_status


class UserOut(Out):
    """The contract's user representation."""

    id: str
    email: str
    name: str
    role: Role
    organization_id: str


class AdminUserOut(UserOut):
    """The contract's user plus whether the account is active."""

    active: bool


class LoginOut(Out):
    token: str
    expires_at: int
    user: UserOut


class TokenOut(Out):
    """The listing shape: never the secret nor its hash. Times are epoch seconds."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    owner_id: str
    created_at: int
    last_used: int | None
    expires: int
    status: Literal["active", "rotating", "revoked", "expired"]
    successor_id: str | None
    predecessor_id: str | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored token (`identity.models.ApiTokenModel`)."""
        return super().of(_token_fields(source))


class IssuedTokenOut(TokenOut):
    """A new token: `token` is the full secret, shown this once."""

    token: str

    @classmethod
    def of(cls, source: Any) -> Self:
        """From `api_tokens.IssuedToken`: the stored token and its secret."""
        # Out.of, not TokenOut.of (which reads a stored token, not this mapping).
        return super(TokenOut, cls).of({**_token_fields(source.item), "token": source.secret})


def _token_fields(item: Any) -> dict[str, Any]:
    return {
        "id": item.token_id,
        "name": item.name,
        "prefix": item.prefix,
        "scopes": sorted(item.scopes.split()),
        "owner_id": item.user_id,
        "created_at": int(item.created_at_ms) // 1000,
        "last_used": None if item.last_used_at is None else int(item.last_used_at),
        "expires": int(item.expires_at),
        "status": token_status(item),
        "successor_id": item.successor_id,
        "predecessor_id": item.predecessor_id,
    }
