"""Organization keys: every item of every table lives under its organization's key.

`org_pk` is the partition of the identity, revocations, audit and attachments tables;
`org_prefix` starts the partition of each ticket (`ORG#<org>#TICKET#<id>`) and every other key
that is scoped to one organization (rate-limit and containment counters, idempotency records).
No other module spells `ORG#`, so an organization's items cannot be addressed without its id.
"""

from __future__ import annotations

ORG_PREFIX = "ORG#"


def org_pk(organization_id: str) -> str:
    """`ORG#<org>`: the partition key of an organization's items."""
    if not organization_id:
        raise ValueError("an organization id is required")
    return f"{ORG_PREFIX}{organization_id}"


def organization_of_key(key: str) -> str | None:
    """The organization id an `ORG#<org>` partition key names (None for any other key)."""
    if not key.startswith(ORG_PREFIX):
        return None
    return key[len(ORG_PREFIX) :].split("#", 1)[0] or None


def org_prefix(organization_id: str) -> str:
    """`ORG#<org>#`: the start of every composite key scoped to the organization."""
    return f"{org_pk(organization_id)}#"


def org_scoped(organization_id: str, *parts: str) -> str:
    """`ORG#<org>#<part>#<part>...`: a composite key scoped to the organization."""
    return org_prefix(organization_id) + "#".join(parts)
