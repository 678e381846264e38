"""Demo data for the local stack: two organizations with one user of each role."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.identity import users

DEMO_ORGANIZATIONS = (("acme", "Acme Corporation"), ("globex", "Globex Corporation"))


def seed_demo() -> list[dict[str, Any]]:
    """Create the demo organizations and users with fresh passwords; returns what was created."""
    created: list[dict[str, Any]] = []
    for org_id, org_name in DEMO_ORGANIZATIONS:
        users.create_organization(org_id, org_name)
        org_users = []
        for role in (Role.ADMIN, Role.AGENT, Role.REQUESTER):
            email = f"{role.value.lower()}@{org_id}.example"
            password = secrets.token_urlsafe(15)
            users.create_user(
                org_id,
                email=email,
                name=f"{org_name.split()[0]} {role.value.title()}",
                role=role,
                password=password,
            )
            org_users.append({"email": email, "password": password, "role": role.value})
        created.append({"id": org_id, "name": org_name, "users": org_users})
    return created
