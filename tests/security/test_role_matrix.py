"""Role matrix for the identity routes: anonymous, each role of the same organization, each role
of a second organization. Cross-organization calls get 403 (role) or 404 (admin), never data."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.assertions import assert_error
from tests.support.orgs import TestOrg, TestUser

_seq = itertools.count()
ACTORS = ("anonymous", "requester", "agent", "admin", "x-requester", "x-agent", "x-admin")


@dataclasses.dataclass
class World:
    client: Any
    home: TestOrg
    away: TestOrg

    def actor(self, name: str) -> TestUser | None:
        if name == "anonymous":
            return None
        org = self.away if name.startswith("x-") else self.home
        return getattr(org, name.removeprefix("x-"))

    def fresh_token(self, user: TestUser | None) -> str | None:
        if user is None:
            return None
        response = self.client.post("/api/auth/login", json=user.login_body())
        return str(response.json["token"])

    def home_token_id(self) -> str:
        response = self.client.post(
            "/api/admin/tokens",
            json={"name": "t", "scopes": ["tickets:read"], "expiresInDays": 1},
            token=self.home.admin.token,
        )
        return str(response.json["id"])


def _new_user_body() -> dict[str, Any]:
    return {
        "email": f"matrix-{next(_seq)}@example.com",
        "name": "Matrix",
        "role": "REQUESTER",
    }


# route -> (request builder, expected status per actor). Builders get the world and a token.
Call = Callable[[World, str | None], Any]

ROUTES: dict[str, tuple[Call, dict[str, int]]] = {
    "GET /api/me": (
        lambda w, t: w.client.get("/api/me", token=t),
        dict.fromkeys(ACTORS[1:], 200) | {"anonymous": 401},
    ),
    "GET /api/me/notifications": (
        lambda w, t: w.client.get("/api/me/notifications", token=t),
        dict.fromkeys(ACTORS[1:], 200) | {"anonymous": 401},
    ),
    "PUT /api/me/notifications": (
        lambda w, t: w.client.put(
            "/api/me/notifications",
            json={
                "ticketCreated": True,
                "publicReply": True,
                "requesterReply": False,
                "assigned": True,
            },
            token=t,
        ),
        dict.fromkeys(ACTORS[1:], 200) | {"anonymous": 401},
    ),
    "POST /api/auth/logout": (
        lambda w, t: w.client.post("/api/auth/logout", token=t),
        dict.fromkeys(ACTORS[1:], 204) | {"anonymous": 401},
    ),
    "GET /api/admin/users": (
        lambda w, t: w.client.get("/api/admin/users", token=t),
        {"anonymous": 401, "admin": 200, "x-admin": 200},
    ),
    "POST /api/admin/users": (
        lambda w, t: w.client.post("/api/admin/users", json=_new_user_body(), token=t),
        {"anonymous": 401, "admin": 201, "x-admin": 201},
    ),
    "GET /api/admin/users/{user_id}": (
        lambda w, t: w.client.get(f"/api/admin/users/{w.home.agent.id}", token=t),
        {"anonymous": 401, "admin": 200, "x-admin": 404},
    ),
    "PATCH /api/admin/users/{user_id}": (
        lambda w, t: w.client.patch(
            f"/api/admin/users/{w.home.agent.id}", json={"name": "Renamed"}, token=t
        ),
        {"anonymous": 401, "admin": 200, "x-admin": 404},
    ),
    "POST /api/admin/users/{user_id}/password-reset": (
        lambda w, t: w.client.post(f"/api/admin/users/{w.home.agent.id}/password-reset", token=t),
        {"anonymous": 401, "admin": 202, "x-admin": 404},
    ),
    "POST /api/me/password": (
        # A wrong current password: every signed-in caller reaches the check (400), nobody else.
        lambda w, t: w.client.post(
            "/api/me/password",
            json={
                "currentPassword": "not-the-password",  # pragma: allowlist secret
                "newPassword": "x" * 20,
            },
            token=t,
        ),
        dict.fromkeys(ACTORS[1:], 400) | {"anonymous": 401},
    ),
    "GET /api/admin/tokens": (
        lambda w, t: w.client.get("/api/admin/tokens", token=t),
        {"anonymous": 401, "admin": 200, "x-admin": 200},
    ),
    "POST /api/admin/tokens": (
        lambda w, t: w.client.post(
            "/api/admin/tokens",
            json={"name": "m", "scopes": ["tickets:read"], "expiresInDays": 1},
            token=t,
        ),
        {"anonymous": 401, "admin": 201, "x-admin": 201},
    ),
    "POST /api/admin/tokens/{token_id}/rotate": (
        lambda w, t: w.client.post(f"/api/admin/tokens/{w.home_token_id()}/rotate", token=t),
        {"anonymous": 401, "admin": 201, "x-admin": 404},
    ),
    "DELETE /api/admin/tokens/{token_id}": (
        lambda w, t: w.client.delete(f"/api/admin/tokens/{w.home_token_id()}", token=t),
        {"anonymous": 401, "admin": 204, "x-admin": 404},
    ),
}

CODES = {400: "VALIDATION_ERROR", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND"}


def test_matrix_covers_every_identity_route(app: Any) -> None:
    from chalicelib.authz.policy import POLICY

    identity = {
        f"{method} {path}"
        for (method, path) in POLICY
        if method != "OPTIONS"  # CORS preflights: tests/integration/test_cors.py
        if path.startswith(("/api/admin/users", "/api/admin/tokens", "/api/me", "/api/auth/logout"))
    }
    assert identity == set(ROUTES)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_role_matrix(client: Any, make_org: Any, route: str) -> None:
    world = World(client, make_org(), make_org())
    call, expected = ROUTES[route]
    home_secrets = {
        world.home.id,
        world.home.agent.id,
        world.home.agent.email,
        world.home.admin.email,
    }
    for actor in ACTORS:
        status = expected.get(actor, 403)
        token = world.fresh_token(world.actor(actor))
        response = call(world, token)
        assert response.status == status, (route, actor, response.body)
        if status >= 400:
            assert_error(response, status, CODES[status])
        if actor.startswith("x-"):
            body = response.body.decode()
            leaked = [value for value in home_secrets if value in body]
            assert leaked == [], (route, actor, leaked)
