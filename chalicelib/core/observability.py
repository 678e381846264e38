"""Powertools Logger, Metrics and Tracer: one of each per function, shared by every module.

The request context (request id, route, caller ip, user agent, principal) lives in a context
variable set by the HTTP boundary, so deep code (security events, audit) can read it without
being handed a Chalice request.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.core.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "deskguard")

# Context keys a security event always carries, null when unknown (the contract says "or null").
NULLABLE_KEYS = frozenset(
    {"request_id", "user_id", "organization_id", "route", "route_class", "method", "ip"}
    | {"user_agent"}
)


class _Formatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, except that it keeps `NULLABLE_KEYS` when they are None
    (Powertools drops every None value, which would make event lines lose required fields)."""

    @staticmethod
    def _strip_none_records(records: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in records.items() if v is not None or k in NULLABLE_KEYS}


logger = Logger(service=SERVICE, logger_formatter=_Formatter())
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Deskguard"))


@functools.cache
def tracer() -> Tracer:
    """The X-Ray tracer, built on first use: importing the X-Ray SDK costs ~150 ms of cold start,
    paid only by functions that trace. It patches botocore, so every DynamoDB, S3 and Secrets
    Manager call becomes a subsegment of the unit of work around it."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


Annotate = Callable[..., None]


def _no_annotations(**values: Any) -> None:
    return None


@contextlib.contextmanager
def traced(name: str) -> Iterator[Annotate]:
    """An X-Ray subsegment `name` around a unit of work (an API request, a scan). Yields
    `annotate(**values)` for X-Ray annotations (indexed: `annotation.organization_id = "acme"`
    finds a tenant's traces); None values are skipped. Where tracing is off (local and test
    stages, `POWERTOOLS_TRACE_DISABLED`) it does nothing and the X-Ray SDK is never imported."""
    if not get_settings().tracing_enabled:
        yield _no_annotations
        return
    with tracer().provider.in_subsegment(name=name) as subsegment:

        def annotate(**values: Any) -> None:
            for key, value in values.items():
                if value is not None:
                    subsegment.put_annotation(key, value)

        yield annotate


@dataclasses.dataclass(frozen=True)
class RequestContext:
    """What is known about the request being served; never holds credentials or bodies."""

    request_id: str | None = None
    route: str | None = None
    method: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    route_class: str | None = None  # the rate-limit route class of (method, route)
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


def count_metric(name: str, dimensions: dict[str, str]) -> None:
    """Emit one EMF count (value 1) with its own dimension set, written at once.

    `single_metric` flushes immediately, so the blob is never lost when a handler raises and
    metrics with different dimensions (category, route class) never share one flush.
    """
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)
