"""List pagination: the one cursor codec, page shape and `limit` rule for every list.

A cursor is `core.keyed.sign("cursor", payload)`: `base64url(JSON) . base64url(HMAC-SHA256)`
under the service key. The payload binds the organization (`o`), the list and query (`b`: list
name, caller, filters), an expiry (`e`) and the position (`p`: a DynamoDB LastEvaluatedKey or a
sequence number). A cursor that does not verify, has expired, or was made for another
organization, list, caller or query is a 400 (never a silent restart, never another
organization's position); a forged one and another organization's one are also reported to
containment (`containment_kind`, read by `chalicelib/api/routing.py`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.keyed import sign, unsign
from chalicelib.core.settings import get_settings

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 2048
_PURPOSE = "cursor"
TAMPERED = "tampered_cursor"
CROSS_ORG = "cross_org"


class CursorRejected(ValidationFailed):
    """A cursor that is forged, expired, or belongs to another organization, list or query."""

    default_message = "The cursor is not valid for this request."

    def __init__(self, containment_kind: str | None = None) -> None:
        super().__init__(
            details=[{"field": "cursor", "message": "invalid, expired or issued for another query"}]
        )
        self.containment_kind = containment_kind


@dataclasses.dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        """The contract's list shape."""
        return {"items": self.items, "nextCursor": self.next_cursor}


def parse_limit(raw: str | None) -> int:
    """`?limit=` as an int in 1..100 (default 25), or a 400."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ValidationFailed(
            f"limit must be an integer from 1 to {MAX_LIMIT}.",
            details=[{"field": "limit", "message": f"must be 1..{MAX_LIMIT}"}],
        )
    return int(raw)


def encode(organization_id: str, binding: str, position: Any) -> str | None:
    """The cursor for the page after `position` (None when there is no next page)."""
    if not position:
        return None
    payload = {
        "o": organization_id,
        "b": binding,
        "e": int(time.time()) + get_settings().cursor_ttl_seconds,
        "p": position,
    }
    return sign(_PURPOSE, json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())


def decode(organization_id: str, binding: str, cursor: str | None) -> Any:
    """The position a cursor stands for (None for no cursor), or CursorRejected."""
    if cursor is None:
        return None
    if not cursor:
        raise CursorRejected()  # `?cursor=` with nothing: a client slip, not an attack
    raw = unsign(_PURPOSE, cursor) if len(cursor) <= MAX_CURSOR_LENGTH else None
    if raw is None:
        raise CursorRejected(TAMPERED)
    try:
        data = json.loads(raw)
        owner, bound, expires, position = data["o"], data["b"], data["e"], data["p"]
    except (ValueError, KeyError, TypeError):
        raise CursorRejected(TAMPERED) from None
    if owner != organization_id:
        raise CursorRejected(CROSS_ORG)
    if bound != binding or not isinstance(expires, int) or expires < time.time() or not position:
        raise CursorRejected()
    return position
