"""Schemas of the identity routes (login, passwords, users, the directory, API tokens,
notification preferences): `XOut.dump(...)` is the body (see `chalicelib.core.schemas`), the
OpenAPI document and the fuzzer's oracle; the `...Body` and `...Query` models are what the routes
accept. The route modules name them by deferred reference, so this module (and pydantic) load on
a route's first request, not at the API function's cold start (see `chalicelib.core.lazy`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from chalicelib.authz.principal import Role
from chalicelib.core.list_query import ListQuery
from chalicelib.core.schemas import Out, UtcTimestamp, iso_from_epoch
from chalicelib.core.text import check_one_line
from chalicelib.identity import users
from chalicelib.identity.api_token_format import token_status
from chalicelib.identity.api_tokens import ListedToken

RoleName = Literal["REQUESTER", "AGENT", "ADMIN"]
# A person's name as others read it: no control characters, line breaks or bidi controls.
OneLineName = Annotated[str, Field(min_length=1, max_length=120), AfterValidator(check_one_line)]
# A directory search: a name or e-mail prefix, on one line.
SearchPrefix = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(check_one_line)]


# --- Login and passwords ---------------------------------------------------------------------


class LoginBody(BaseModel):
    """`organization` is the organization's slug: identities belong to one organization, and
    the same e-mail may have an account (and another password) in several."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    organization: str = Field(min_length=1, max_length=64)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=1024)

    def account(self) -> str:
        """What the login limiter and the device cookie are keyed by: the organization and the
        e-mail together (one organization's guesser cannot slow another's user down)."""
        return f"{self.organization.strip().lower()}/{users.normalize_email(self.email)}"


class ChangePasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    currentPassword: str = Field(min_length=1, max_length=1024)  # noqa: N815
    newPassword: str = Field(min_length=1, max_length=1024)  # noqa: N815


class ResetRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    organization: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$")
    email: str = Field(min_length=3, max_length=254)


class ResetCompleteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    token: str = Field(min_length=1, max_length=200)
    newPassword: str = Field(min_length=1, max_length=1024)  # noqa: N815


# --- Users (admin) and the directory ---------------------------------------------------------


class CreateUserBody(BaseModel):
    """No `id`, `organizationId`, `password`, `passwordHash` or `active`: those are never
    client-set. The new user chooses their password through the invitation mail's link."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: OneLineName
    role: RoleName


class UpdateUserBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    name: OneLineName | None = None
    role: RoleName | None = None
    active: bool | None = None


class DirectoryQuery(ListQuery):
    """`role`: only that role; `q`: name or e-mail starts with it (case-insensitive)."""

    role: Literal["REQUESTER", "AGENT", "ADMIN"] | None = None
    q: SearchPrefix | None = None


# --- API tokens ------------------------------------------------------------------------------


class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)
    name: Annotated[str, Field(min_length=1, max_length=80), AfterValidator(check_one_line)]
    scopes: list[str] = Field(min_length=1, max_length=20)
    expiresInDays: int  # noqa: N815 (the contract's field name)


# --- Notification preferences and the one-click unsubscribe ---------------------------------


class NotificationPreferences(BaseModel):
    """Every kind, `true` = mailed. PUT sends all of them."""

    model_config = ConfigDict(extra="forbid", strict=True)
    ticketCreated: bool  # noqa: N815
    publicReply: bool  # noqa: N815
    requesterReply: bool  # noqa: N815
    assigned: bool


class NotificationPreferencesOut(Out):
    ticket_created: bool
    public_reply: bool
    requester_reply: bool
    assigned: bool


class UnsubscribeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    token: str = Field(min_length=1, max_length=400)


class UnsubscribedOut(Out):
    kind: str
    subscribed: bool


# --- Responses -------------------------------------------------------------------------------


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
