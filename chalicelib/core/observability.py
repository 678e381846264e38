"""Powertools Logger, Metrics and Tracer: one of each per function, shared by every module.

The request context (request id, route, caller ip, user agent, principal) lives in a context
variable set by the HTTP boundary, so deep code (security events, audit) can read it without
being handed a Chalice request.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import os
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "deskguard")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Deskguard"))


@functools.cache
def tracer() -> Tracer:
    """The X-Ray tracer, built on first use: importing the X-Ray SDK costs ~150 ms of cold start,
    paid only by functions that trace."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


@dataclasses.dataclass(frozen=True)
class RequestContext:
    """What is known about the request being served; never holds credentials or bodies."""

    request_id: str | None = None
    route: str | None = None
    method: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    user_id: str | None = None
    organization_id: str | None = None


_context: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "deskguard_request_context", default=RequestContext()
)


def current_context() -> RequestContext:
    """The context of the request being served (empty outside a request)."""
    return _context.get()


def set_context(ctx: RequestContext) -> contextvars.Token[RequestContext]:
    """Install a request context and tag every following log line with its request id."""
    logger.append_keys(request_id=ctx.request_id)
    return _context.set(ctx)


def bind_principal(user_id: str | None, organization_id: str | None) -> None:
    """Record who the caller is, once the authorizer's claims are read."""
    _context.set(
        dataclasses.replace(_context.get(), user_id=user_id, organization_id=organization_id)
    )


def reset_context(token: contextvars.Token[RequestContext]) -> None:
    """Leave the request: restore the previous context and drop the request id from logs."""
    _context.reset(token)
    logger.remove_keys(["request_id"])
