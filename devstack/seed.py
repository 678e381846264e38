"""Demo data for the local stack: two organizations with one user of each role, and one customer
who is a requester of both (the same e-mail, a separate account and password in each)."""

from __future__ import annotations

import secrets
from typing import Any

from chalicelib.authz.principal import Role
from chalicelib.identity import users

DEMO_ORGANIZATIONS = (("acme", "Acme Corporation"), ("globex", "Globex Corporation"))
# A customer of both demo organizations: identities belong to an organization, so the same
# address is two accounts, and the login body's `organization` picks one.
SHARED_CUSTOMER = ("pat@customer.example", "Pat Customer")


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
            org_users.append(
                {"organization": org_id, "email": email, "password": password, "role": role.value}
            )
        email, name = SHARED_CUSTOMER
        password = secrets.token_urlsafe(15)
        users.create_user(org_id, email=email, name=name, role=Role.REQUESTER, password=password)
        org_users.append(
            {"organization": org_id, "email": email, "password": password, "role": "REQUESTER"}
        )
        created.append({"id": org_id, "name": org_name, "users": org_users})
    return created
