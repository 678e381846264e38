"""List pagination: the one cursor codec and page shape for every list.

A list route parses its query string with a `core.list_query.ListQuery` subclass (`?limit=`:
ASCII digits, 1..100, default 25; `?cursor=`; unknown parameters refused; that module holds the
pydantic half, so code that only pages through DynamoDB does not load pydantic), its service
returns a `Page` of domain objects, and the route answers `page.dump(ItemOut)`:
`{"items": [...], "nextCursor": ...}`.

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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.keyed import sign, unsign
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings

if TYPE_CHECKING:  # pydantic stays out of the authorizer's import path (token helpers use this)
    from chalicelib.core.schemas import Out

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


ItemT = TypeVar("ItemT")


@dataclasses.dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page of a list and the cursor of the page after it (None on the last page)."""

    items: Sequence[ItemT]
    next_cursor: str | None

    def dump(self, shape: type[Out]) -> dict[str, Any]:
        """The contract's list body, each item shaped by the response model `shape`."""
        return {"items": [shape.dump(item) for item in self.items], "nextCursor": self.next_cursor}

    @staticmethod
    def json_schema(item: dict[str, Any]) -> dict[str, Any]:
        """The JSON schema of `dump`'s body around the schema of one item (for OpenAPI)."""
        return {
            "type": "object",
            "required": ["items", "nextCursor"],
            "additionalProperties": False,
            "properties": {
                "items": {"type": "array", "maxItems": MAX_LIMIT, "items": item},
                "nextCursor": {"type": ["string", "null"], "maxLength": MAX_CURSOR_LENGTH},
            },
        }


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


def query_page(
    model: Any,
    organization_id: str,
    binding: str,
    range_key_condition: Any,
    *,
    limit: int,
    cursor: str | None,
) -> Page[Any]:
    """One page of the organization's items of `model` whose sort key matches the condition: one
    Query on the `ORG#<org>` partition, resumed from `cursor` (bound to the organization and to
    `binding`), with the cursor of the page after it."""
    results = model.query(
        org_pk(organization_id),
        range_key_condition,
        limit=limit,
        last_evaluated_key=decode(organization_id, binding, cursor),
    )
    items = list(results)  # read before `last_evaluated_key`, which the iteration sets
    return Page(items, encode(organization_id, binding, results.last_evaluated_key))
