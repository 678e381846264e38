"""Who is calling: the `Principal` every service receives, and its round trip through the
authorizer context (which API Gateway only lets carry strings, numbers and booleans)."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any


class Role(enum.StrEnum):
    REQUESTER = "REQUESTER"
    AGENT = "AGENT"
    ADMIN = "ADMIN"


class TokenType(enum.StrEnum):
    SESSION = "session"
    API_TOKEN = "api_token"  # noqa: S105 (a token type name, not a secret)


class Credential(enum.StrEnum):
    """How the credential travelled: cookie-borne requests need a CSRF check."""

    BEARER = "bearer"
    COOKIE = "cookie"


STAFF_ROLES = frozenset({Role.AGENT, Role.ADMIN})
ALL_ROLES = frozenset(Role)


@dataclasses.dataclass(frozen=True)
class Principal:
    """An authenticated caller, always bound to exactly one organization."""

    user_id: str
    organization_id: str
    role: Role
    token_type: TokenType = TokenType.SESSION
    token_id: str = ""  # the session's jti or the API token's id
    scopes: frozenset[str] = frozenset()
    credential: Credential = Credential.BEARER
    expires_at: int = 0  # epoch seconds the credential expires (0: unknown)

    @property
    def is_staff(self) -> bool:
        """Agents and admins: organization staff."""
        return self.role in STAFF_ROLES

    def to_authorizer_context(self) -> dict[str, str]:
        """Flat string context for API Gateway (lists travel as one space-separated string)."""
        return {
            "principalId": self.user_id,
            "organizationId": self.organization_id,
            "role": self.role.value,
            "tokenType": self.token_type.value,
            "tokenId": self.token_id,
            "scopes": " ".join(sorted(self.scopes)),
            "credential": self.credential.value,
            "expiresAt": str(self.expires_at),
        }

    @classmethod
    def from_authorizer_context(cls, context: Mapping[str, Any]) -> Principal:
        """Rebuild the principal from the context the authorizer minted (KeyError if absent)."""
        return cls(
            user_id=str(context["principalId"]),
            organization_id=str(context["organizationId"]),
            role=Role(str(context["role"])),
            token_type=TokenType(str(context.get("tokenType", TokenType.SESSION.value))),
            token_id=str(context.get("tokenId", "")),
            scopes=frozenset(str(context.get("scopes", "")).split()),
            credential=Credential(str(context.get("credential", Credential.BEARER.value))),
            expires_at=int(str(context.get("expiresAt", "0")) or 0),
        )
