"""Idempotent creates: a retried request with the same `Idempotency-Key` gets the first result.

Powertools' idempotency utility does the work (in-progress lock, stored result, expiry) with its
DynamoDB persistence layer. Its table is declared here as a pynamodb model, so the one table
registry (`chalicelib.tables`) creates it like every other table; the model only describes the
key (`id`) and TTL attribute (`expiration`) Powertools writes, it is never used to read records.

A key is scoped to the organization, the caller and the operation (e.g. comments on ticket X):
the same key from another user or org is a different record. Its partition key starts with the
organization id like every other table's. Reusing a key with a different body is a 409.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict, ValidationFailed
from chalicelib.core.org_keys import org_scoped
from chalicelib.core.settings import get_settings

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


class OrganizationScopedPersistence(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB layer with record ids that start with `ORG#<org>#`."""

    def _get_hashed_idempotency_key(self, data: dict[str, Any]) -> str | None:
        hashed = super()._get_hashed_idempotency_key(data)
        if hashed is None:
            return None
        return org_scoped(data["scope"]["organizationId"], hashed)


@functools.cache
def _persistence(table_name: str) -> OrganizationScopedPersistence:
    return OrganizationScopedPersistence(table_name=table_name)


def _config(ttl_seconds: int, lambda_context: Any) -> IdempotencyConfig:
    config = IdempotencyConfig(
        event_key_jmespath="scope",
        payload_validation_jmespath="payload",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=ttl_seconds,
    )
    if lambda_context is not None:
        # Lets Powertools expire an in-progress record if the function times out mid-request.
        config.register_lambda_context(lambda_context)
    return config


def validate_key(raw: str | None) -> str | None:
    """The header value, or a 400 when present but malformed (8..128 of [A-Za-z0-9._:-])."""
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise ValidationFailed(
            details=[{"field": HEADER, "message": "must be 8..128 characters of [A-Za-z0-9._:-]"}]
        )
    return raw


def run_once(
    principal: Principal,
    operation: str,
    key: str | None,
    payload: dict[str, Any],
    produce: Callable[[], dict[str, Any]],
    *,
    lambda_context: Any = None,
) -> dict[str, Any]:
    """`produce()` once per (org, caller, operation, key); later calls return its stored result.

    Without a key, `produce()` simply runs. `payload` (the request body) must match the first
    call's, otherwise the key is being reused for another request: 409.
    """
    if key is None:
        return produce()
    scope = {
        "organizationId": principal.organization_id,
        "userId": principal.user_id,
        "operation": operation,
        "key": key,
    }
    try:
        return once(scope, payload, produce, lambda_context=lambda_context)
    except IdempotencyAlreadyInProgressError:
        raise Conflict("A request with this Idempotency-Key is still in progress.") from None
    except IdempotencyValidationError:
        raise Conflict("This Idempotency-Key was already used for a different request.") from None


def once(
    scope: dict[str, str],
    payload: dict[str, Any],
    produce: Callable[[], dict[str, Any]],
    *,
    lambda_context: Any = None,
) -> dict[str, Any]:
    """`produce()` once per `scope` (which must name `organizationId`); a later call returns the
    stored result. If `produce()` raises, nothing is stored and the next call runs it again.
    Raises Powertools' `IdempotencyAlreadyInProgressError` while another call holds the scope,
    and `IdempotencyValidationError` when `payload` differs from the first call's."""
    settings = get_settings()
    persistence = _persistence(settings.table_name("idempotency"))

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request",
        persistence_store=persistence,
        config=_config(settings.idempotency_ttl_seconds, lambda_context),
    )
    def execute(request: dict[str, Any]) -> dict[str, Any]:
        return produce()

    result: dict[str, Any] = execute(request={"scope": scope, "payload": payload})
    return result
