"""The query string of a list route: `ListQuery` and its `limit` and `cursor` fields.

The pydantic half of pagination (`core.cursors` is the codec and the page shape, free of
pydantic): `?limit=` is one to three ASCII digits in 1..100 (default 25), `?cursor=` any string
that `cursors.decode` then verifies, and an unknown parameter is refused. A list route's query
model subclasses `ListQuery` and adds the list's filters.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic_core import PydanticCustomError

from chalicelib.core.cursors import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT

LIMIT_RULE = f"must be an integer from 1 to {MAX_LIMIT}"


def _limit(value: Any) -> int:
    """`?limit=` as an int: one to three ASCII digits in 1..MAX_LIMIT (`str.isdigit` alone would
    let `²` or `١٢` through to `int()`), or an int in range from code."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 3:
        value = int(value)
    if type(value) is int and 1 <= value <= MAX_LIMIT:
        return value
    raise PydanticCustomError("limit", LIMIT_RULE)


# `_limit` runs first and checks the range itself (one message for every bad value); `ge`/`le`
# document the range in the schema.
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT), BeforeValidator(_limit)]
# Any string reaches `decode`, which refuses a malformed or overlong one as a forgery (so it is
# reported to containment); the documented length is what `encode` can produce.
Cursor = Annotated[str, WithJsonSchema({"type": "string", "maxLength": MAX_CURSOR_LENGTH})]


class ListQuery(BaseModel):
    """The query string of a list route (`ApiCall.query`); subclasses add the list's filters."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    limit: Limit = DEFAULT_LIMIT
    cursor: Cursor | None = None
