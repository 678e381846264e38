"""`GET /api/openapi.json`: the generated OpenAPI document, public."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from chalicelib.api.routing import ApiCall, api_route

docs_bp = Blueprint(__name__)

_document: dict[str, Any] = {}


@api_route(
    docs_bp,
    "/openapi.json",
    methods=["GET"],
    public=True,
    summary="The OpenAPI 3.1 document of this API.",
    response={"type": "object", "required": ["openapi", "info", "paths", "components"]},
    operation_id="getOpenApiDocument",
)
def openapi_document(call: ApiCall) -> dict[str, Any]:
    if not _document:  # built once per process: routes do not change at run time
        from chalicelib.api.openapi import generate

        _document.update(generate(docs_bp.current_app))
    return _document
