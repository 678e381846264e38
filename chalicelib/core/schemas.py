"""The base of every response body: the pydantic model is the serializer and the documentation.

A response model declares its fields in snake_case, as the domain objects name them; the JSON
names are their camelCase aliases (`organization_id` -> `organizationId`), the contract's names.
So `TicketOut.dump(ticket)` reads a domain object's attributes and returns the JSON body, the
OpenAPI document shows the same model, and the fuzzer validates responses against it. Unknown
fields are forbidden, so a body carrying a field the model does not declare fails validation.

Every time in a body is an ISO 8601 UTC string with milliseconds (`2026-01-31T09:30:00.000+00:00`,
`UtcTimestamp`, documented as `format: date-time`); `iso_from_epoch` turns a stored epoch into
one (API tokens and sessions keep epoch numbers in storage, for TTLs and comparisons).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

UtcTimestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


def iso_from_epoch(seconds: float) -> str:
    """An epoch time (seconds, fractions kept to the millisecond) as a body's ISO 8601 UTC."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


class Out(BaseModel):
    """A response body. `dump(source)` is the one way a route turns a domain object into JSON."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        from_attributes=True,
        alias_generator=to_camel,
        serialize_by_alias=True,
        # Built on first use, not at import: a cold function builds only the schemas its
        # request touches (see docs/performance.md).
        defer_build=True,
    )

    @classmethod
    def of(cls, source: Any) -> Self:
        """The response for `source`, read from its attributes or keys by field name (a model
        whose fields are not attributes of its source overrides this with the mapping)."""
        # By name here only: validating a JSON body (the fuzzer's and the tests' oracle) accepts
        # the camelCase names alone, so a body leaking a snake_case key is refused.
        return cls.model_validate(source, by_name=True)

    @classmethod
    def dump(cls, source: Any) -> dict[str, Any]:
        """The JSON body for `source` (camelCase names, JSON types)."""
        return cls.of(source).model_dump(mode="json")


class NoBody(BaseModel):
    """A route that reads no request body (`api_route(body=NoBody)`, a POST that acts on its
    path alone): documented as an operation without `requestBody`."""

    model_config = ConfigDict(defer_build=True)


# `GET /api/health` (no docstring: the OpenAPI document shows it as the schema's description).
class HealthOut(Out):
    status: str
    stage: str
