"""The HTTP boundary middleware: request id, body size guard, error reshaping, security and CORS
headers.

Registered once in `app.py` as Chalice `http` middleware, so it sees every response the function
returns: those of views (shaped by `chalicelib.api.routing`) and those Chalice makes itself
(405, 415, unhandled exceptions), which it rewrites into the contract's error shape.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from chalice.app import Request, Response

from chalicelib.core import cors, startup
from chalicelib.core.errors import (
    CHALICE_CODE_TO_ERROR,
    DeskguardError,
    Internal,
    PayloadTooLarge,
    error_body,
    error_for_status,
)
from chalicelib.core.headers import security_headers
from chalicelib.core.observability import (
    RequestContext,
    current_context,
    logger,
    reset_context,
    set_context,
    traced,
)
from chalicelib.core.route_classes import route_class
from chalicelib.core.settings import get_settings


def error_response(error: DeskguardError) -> Response:
    """The one way to turn an error into an HTTP response."""
    headers: dict[str, str | list[str]] = {"Content-Type": "application/json", **error.headers}
    return Response(body=error_body(error), status_code=error.status, headers=headers)


def _request_context(request: Request) -> RequestContext:
    ctx: dict[str, Any] = request.context or {}
    identity: dict[str, Any] = ctx.get("identity") or {}
    return RequestContext(
        request_id=ctx.get("requestId") or str(uuid.uuid4()),
        route=ctx.get("resourcePath"),
        route_class=route_class(request.method, ctx.get("resourcePath")),
        method=request.method,
        ip=identity.get("sourceIp"),
        user_agent=(request.headers.get("user-agent") or "")[:256] or None,
    )


def _body_size(request: Request) -> int:
    declared = request.headers.get("content-length")
    raw = request.raw_body
    actual = len(raw) if raw else 0
    try:
        return max(actual, int(declared)) if declared else actual
    except ValueError:
        return actual


def _chalice_error(response: Response) -> DeskguardError | None:
    """Chalice's own `{"Code", "Message"}` bodies (and any unshaped error) as our error type."""
    if response.status_code < 400:
        return None
    body: Any = response.body
    if isinstance(body, (str, bytes)):
        try:
            body = json.loads(body)
        except ValueError:
            body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None  # already in the contract's shape
    if isinstance(body, dict) and "Code" in body:
        error_cls = CHALICE_CODE_TO_ERROR.get(str(body["Code"]))
        if error_cls is not None and error_cls is not Internal:
            return error_cls(headers=_allow_header(response))
    return error_for_status(response.status_code)


def _allow_header(response: Response) -> dict[str, str]:
    allow = response.headers.get("Allow")
    return {"Allow": str(allow)} if allow else {}


def http_boundary(request: Request, get_response: Callable[[Request], Response]) -> Response:
    """Chalice `http` middleware wrapped around every API request."""
    ctx = _request_context(request)
    token = set_context(ctx)
    try:
        with traced(f"## {ctx.method} {ctx.route}") as annotate:
            if startup.refusal() is not None:
                response = error_response(Internal())  # misconfigured: logged once at init
            elif _body_size(request) > get_settings().max_body_bytes:
                response = error_response(PayloadTooLarge())
            else:
                response = get_response(request)
                reshaped = _chalice_error(response)
                if reshaped is not None:
                    if reshaped.status >= 500:
                        logger.error(
                            "unshaped server error", extra={"status": response.status_code}
                        )
                    response = error_response(reshaped)
            response.headers.update(security_headers())
            response.headers["X-Request-Id"] = str(ctx.request_id)
            if "Access-Control-Allow-Origin" not in response.headers:  # a preflight set its own
                response.headers.update(cors.response_headers(request.headers.get("origin")))
            served = current_context()
            annotate(
                route=ctx.route,
                method=ctx.method,
                route_class=ctx.route_class,
                status=response.status_code,
                organization_id=served.organization_id,
            )
        return response
    finally:
        reset_context(token)
