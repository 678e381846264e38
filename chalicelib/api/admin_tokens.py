"""`/api/admin/tokens`: create (secret shown once), list, rotate, revoke. ADMIN only (policy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chalice.app import Blueprint, Response

from chalicelib.api.routing import ApiCall, NoBody, api_route
from chalicelib.core.lazy import deferred_names, lazy_module

if TYPE_CHECKING:  # imported on a route's first request (chalicelib.core.lazy)
    from chalicelib.core import list_query
    from chalicelib.identity import api_tokens
    from chalicelib.identity import schemas as models
else:
    list_query = deferred_names("chalicelib.core.list_query")
    api_tokens = lazy_module("chalicelib.identity.api_tokens")
    models = deferred_names("chalicelib.identity.schemas")

admin_tokens_bp = Blueprint(__name__)


@api_route(
    admin_tokens_bp,
    "/admin/tokens",
    methods=["POST"],
    status=201,
    body=models.CreateTokenBody,
    response=models.IssuedTokenOut,
    summary=(
        "Create an API token owned by the caller (known scopes; expiry 1..API_TOKEN_MAX_DAYS "
        "days); the secret is in the response only."
    ),
    operation_id="createApiToken",
)
def create_token(call: ApiCall) -> dict[str, Any]:
    body = call.body(models.CreateTokenBody)
    issued = api_tokens.create_token(
        call.principal, name=body.name, scopes=body.scopes, expires_in_days=body.expiresInDays
    )
    return models.IssuedTokenOut.dump(issued)


@api_route(
    admin_tokens_bp,
    "/admin/tokens",
    methods=["GET"],
    query=list_query.ListQuery,
    response=models.TokenOut,
    paginated=True,
    summary="The organization's API tokens (never their secrets), a page at a time.",
    operation_id="listApiTokens",
)
def list_tokens(call: ApiCall) -> dict[str, Any]:
    query = call.query(list_query.ListQuery)
    page = api_tokens.list_tokens(
        call.principal.organization_id, limit=query.limit, cursor=query.cursor
    )
    return page.dump(models.TokenOut)


@api_route(
    admin_tokens_bp,
    "/admin/tokens/{token_id}/rotate",
    methods=["POST"],
    status=201,
    body=NoBody,
    response=models.IssuedTokenOut,
    summary=(
        "Issue a successor (same owner, name, scopes, lifetime); the old token keeps working "
        "for a grace period. 409 unless the token is active."
    ),
    operation_id="rotateApiToken",
)
def rotate_token(call: ApiCall, token_id: str) -> dict[str, Any]:
    return models.IssuedTokenOut.dump(api_tokens.rotate_token(call.principal, token_id))


@api_route(
    admin_tokens_bp,
    "/admin/tokens/{token_id}",
    methods=["DELETE"],
    status=204,
    summary="Revoke a token at once (idempotent).",
    operation_id="revokeApiToken",
)
def revoke_token(call: ApiCall, token_id: str) -> Response:
    api_tokens.revoke_token(call.principal, token_id)
    return Response(body="", status_code=204)
