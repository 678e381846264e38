"""Factories that build organizations and users through the real services, in one call."""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from typing import Any

from chalicelib.authz.principal import Principal, Role
from chalicelib.identity import api_tokens, users

_counter = itertools.count(1)


@dataclasses.dataclass
class TestUser:
    __test__ = False  # not a pytest test class

    id: str
    email: str
    password: str
    role: Role
    organization_id: str
    token: str

    def auth(self) -> dict[str, Any]:
        """Keyword arguments for ApiClient calls made as this user."""
        return {"token": self.token}

    def login_body(self, **changes: str) -> dict[str, str]:
        """The body of `POST /api/auth/login` for this user (fields overridable)."""
        body = {"organization": self.organization_id, "email": self.email}
        body["password"] = self.password
        return {**body, **changes}


@dataclasses.dataclass
class TestOrg:
    __test__ = False

    id: str
    admin: TestUser
    agent: TestUser
    requester: TestUser
    factory: OrgFactory

    def add_user(self, role: Role) -> TestUser:
        """Another user of this organization, logged in."""
        return self.factory.user(self.id, role)


class OrgFactory:
    def __init__(self, client: Any) -> None:
        self.client = client

    def __call__(self, org_id: str | None = None) -> TestOrg:
        org_id = org_id or f"org-{next(_counter)}-{secrets.token_hex(2)}"
        users.create_organization(org_id, org_id.title())
        return TestOrg(
            id=org_id,
            admin=self.user(org_id, Role.ADMIN),
            agent=self.user(org_id, Role.AGENT),
            requester=self.user(org_id, Role.REQUESTER),
            factory=self,
        )

    def user(self, org_id: str, role: Role) -> TestUser:
        email = f"{role.value.lower()}-{next(_counter)}@{org_id}.example"
        password = f"pw-{secrets.token_hex(8)}"
        user = users.create_user(
            org_id, email=email, name=role.value.title(), role=role, password=password
        )
        credentials = {"organization": org_id, "email": email, "password": password}
        response = self.client.post("/api/auth/login", json=credentials)
        assert response.status == 200, response.body
        return TestUser(
            id=user.id,
            email=email,
            password=password,
            role=role,
            organization_id=org_id,
            token=response.json["token"],
        )


def mint_api_token(
    user: TestUser,
    scopes: list[str] | tuple[str, ...] = ("tickets:read",),
    *,
    expires_in_days: int = 30,
    name: str = "test token",
) -> str:
    """Create an API token owned by `user` through the real service; returns the secret.

    The token acts with the user's current role narrowed to `scopes` (any role may own one here,
    although only admins can create tokens over HTTP).
    """
    owner = Principal(user_id=user.id, organization_id=user.organization_id, role=user.role)
    issued = api_tokens.create_token(
        owner, name=name, scopes=list(scopes), expires_in_days=expires_in_days
    )
    return issued.secret
