"""Opaque list cursors for the identity lists, signed and bound to one organization and list.

A cursor is `base64url(JSON {o: org, l: list, k: DynamoDB key}) . base64url(Ed25519 signature)`,
signed with the session keyring's active key (so no extra secret to manage). A cursor from another
organization, another list, or edited by hand is a 400.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from chalicelib.authz.keys import b64url, keyring, unb64url, verify_signature
from chalicelib.core.errors import ValidationFailed

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
_MAX_CURSOR_LENGTH = 2048


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        """The contract's list shape."""
        return {"items": self.items, "nextCursor": self.next_cursor}


def parse_limit(query: Mapping[str, str]) -> int:
    """`?limit=` in 1..100, default 25."""
    raw = query.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            details=[{"field": "limit", "message": "out of range"}],
        )
    return int(raw)


def _signed_message(payload: str) -> bytes:
    return b"deskguard-cursor:" + payload.encode()


def encode_cursor(organization_id: str, list_name: str, key: dict[str, Any] | None) -> str | None:
    """A cursor for the page after `key` (None when there is no next page)."""
    if not key:
        return None
    payload = b64url(
        json.dumps({"o": organization_id, "l": list_name, "k": key}, sort_keys=True).encode()
    )
    ring = keyring()
    kid, private_key = ring.signing_key()
    signature = private_key.sign(_signed_message(f"{kid}.{payload}")).signature
    return f"{kid}.{payload}.{b64url(signature)}"


def decode_cursor(
    organization_id: str, list_name: str, cursor: str | None
) -> dict[str, Any] | None:
    """The DynamoDB start key a cursor stands for, or a 400 if it is not ours for this list."""
    if not cursor:
        return None
    invalid = ValidationFailed(
        "The cursor is not valid.", details=[{"field": "cursor", "message": "invalid"}]
    )
    if len(cursor) > _MAX_CURSOR_LENGTH or cursor.count(".") != 2:
        raise invalid
    kid, payload, signature = cursor.split(".")
    public_key = keyring().public_keys.get(kid)
    if public_key is None:
        raise invalid
    try:
        signed = verify_signature(
            public_key, _signed_message(f"{kid}.{payload}"), unb64url(signature)
        )
        data = json.loads(unb64url(payload)) if signed else None
    except ValueError:
        raise invalid from None
    if not isinstance(data, dict) or data.get("o") != organization_id or data.get("l") != list_name:
        raise invalid
    key = data.get("k")
    if not isinstance(key, dict):
        raise invalid
    return key
