"""The base of every response body: the pydantic model is the serializer and the documentation.

A response model declares its fields in snake_case, as the domain objects name them; the JSON
names are their camelCase aliases (`organization_id` -> `organizationId`), the contract's names.
So `TicketOut.dump(ticket)` reads a domain object's attributes and returns the JSON body, the
OpenAPI document shows the same model, and the fuzzer validates responses against it. Unknown
fields are forbidden, so a body carrying a field the model does not declare fails validation.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Out(BaseModel):
    """A response body. `dump(source)` is the one way a route turns a domain object into JSON."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        from_attributes=True,
        alias_generator=to_camel,
        serialize_by_alias=True,
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
