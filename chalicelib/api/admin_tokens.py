"""`/api/admin/tokens`: create (secret shown once), list, rotate, revoke. ADMIN only (policy)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field

from chalicelib.api.routing import ApiCall, api_route
from chalicelib.authz import api_tokens
from chalicelib.authz.cursors import parse_limit

admin_tokens_bp = Blueprint(__name__)


class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=80)
    scopes: list[str] = Field(min_length=1, max_length=20)
    expiresInDays: int  # noqa: N815 (the contract's field name)


def _issued(issued: api_tokens.IssuedToken) -> dict[str, Any]:
    return {**issued.record, "token": issued.secret}


@api_route(admin_tokens_bp, "/admin/tokens", methods=["POST"], status=201)
def create_token(call: ApiCall) -> dict[str, Any]:
    body = call.body(CreateTokenBody)
    return _issued(
        api_tokens.create_token(
            call.principal, name=body.name, scopes=body.scopes, expires_in_days=body.expiresInDays
        )
    )


@api_route(admin_tokens_bp, "/admin/tokens", methods=["GET"])
def list_tokens(call: ApiCall) -> dict[str, Any]:
    page = api_tokens.list_tokens(
        call.principal.organization_id,
        limit=parse_limit(call.query),
        cursor=call.query.get("cursor"),
    )
    return page.body()


@api_route(admin_tokens_bp, "/admin/tokens/{token_id}/rotate", methods=["POST"], status=201)
def rotate_token(call: ApiCall, token_id: str) -> dict[str, Any]:
    return _issued(api_tokens.rotate_token(call.principal, token_id))


@api_route(admin_tokens_bp, "/admin/tokens/{token_id}", methods=["DELETE"])
def revoke_token(call: ApiCall, token_id: str) -> Response:
    api_tokens.revoke_token(call.principal, token_id)
    return Response(body="", status_code=204)
