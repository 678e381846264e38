"""Response schemas of the identity routes (users, login, API tokens): `XOut.dump(...)` is the
body (see `chalicelib.core.schemas`), the OpenAPI document and the fuzzer's oracle."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict

from chalicelib.authz.principal import Role
from chalicelib.core.schemas import Out, UtcTimestamp, iso_from_epoch
from chalicelib.identity.api_token_format import token_status
from chalicelib.identity.api_tokens import ListedToken


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
    """The session: `expires_at` is when the token stops working (ISO 8601 UTC)."""

    token: str
    expires_at: UtcTimestamp
    user: UserOut

    @classmethod
    def of(cls, source: Any) -> Self:
        """From `{"token", "expires_at" (epoch seconds, as the JWT's `exp`), "user"}`."""
        return super().of({**source, "expires_at": iso_from_epoch(int(source["expires_at"]))})


class ResetRequestedOut(Out):
    """The answer to a reset request: the same text whether or not the address exists."""

    message: str


class AdminResetOut(Out):
    """The answer to an admin-initiated reset: whether the mail was handed to the mail service."""

    message: str
    mail_sent: bool


class CreatedUserOut(AdminUserOut):
    """A new user, and whether their invitation mail was handed to the mail service."""

    invitation_sent: bool


class TokenOut(Out):
    """The listing shape: never the secret nor its hash. Times are ISO 8601 UTC (stored as epoch
    numbers)."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    owner_id: str
    created_at: UtcTimestamp
    last_used: UtcTimestamp | None
    expires: UtcTimestamp
    status: Literal["active", "rotating", "revoked", "expired"]
    successor_id: str | None
    predecessor_id: str | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a listed token (`api_tokens.ListedToken`, with its effective status) or a stored
        one (`identity.models.ApiTokenModel`, status from the item alone)."""
        if isinstance(source, ListedToken):
            return super().of(_token_fields(source.item, source.status))
        return super().of(_token_fields(source))


class IssuedTokenOut(TokenOut):
    """A new token: `token` is the full secret, shown this once."""

    token: str

    @classmethod
    def of(cls, source: Any) -> Self:
        """From `api_tokens.IssuedToken`: the stored token and its secret."""
        # Out.of, not TokenOut.of (which reads a stored token, not this mapping).
        return super(TokenOut, cls).of({**_token_fields(source.item), "token": source.secret})


def _token_fields(item: Any, status: str | None = None) -> dict[str, Any]:
    return {
        "id": item.token_id,
        "name": item.name,
        "prefix": item.prefix,
        "scopes": sorted(item.scopes.split()),
        "owner_id": item.user_id,
        "created_at": iso_from_epoch(int(item.created_at_ms) / 1000),
        "last_used": None if item.last_used_at is None else iso_from_epoch(int(item.last_used_at)),
        "expires": iso_from_epoch(int(item.expires_at)),
        "status": status or token_status(item),
        "successor_id": item.successor_id,
        "predecessor_id": item.predecessor_id,
    }


class FlagOut(Out):
    """One contained credential (`session`, `api_token`) or account (`user`), for review."""

    id: str
    user_id: str
    subject_type: Literal["session", "api_token", "user"]
    subject_id: str
    kind: str
    signals: int
    created_at: UtcTimestamp
    status: Literal["open", "cleared"]
    cleared_at: UtcTimestamp | None
    cleared_by: str | None

    @classmethod
    def of(cls, source: Any) -> Self:
        """From a stored flag (`identity.models.SecurityFlagModel`)."""
        return super().of(
            {
                "id": source.flag_id,
                "user_id": source.user_id,
                "subject_type": source.subject_type,
                "subject_id": source.subject_id,
                "kind": source.kind,
                "signals": int(source.signals),
                "created_at": source.created_at,
                "status": "cleared" if source.cleared_at else "open",
                "cleared_at": source.cleared_at,
                "cleared_by": source.cleared_by,
            }
        )


class DirectoryUserOut(Out):
    """A person in the organization's directory (what agents and admins look people up by)."""

    id: str
    name: str
    role: Role
    active: bool
    email: str


class OrgSettingsBody(BaseModel):
    """`PATCH /api/admin/settings`: the settings to change."""

    model_config = ConfigDict(extra="forbid", strict=True)
    agentTicketVisibility: Literal["organization", "groups"]  # noqa: N815


class OrgSettingsOut(Out):
    """The organization's settings."""

    agent_ticket_visibility: Literal["organization", "groups"]
