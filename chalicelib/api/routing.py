"""The one decorator every API route is declared with: the HTTP error boundary and the RBAC gate.

    @api_route(bp, "/tickets", methods=["POST"], status=201)
    def create_ticket(call: ApiCall) -> dict: ...

It reads the principal from the authorizer's context, checks the RBAC table for the route, calls
the handler, and turns typed domain errors (and anything unexpected) into the contract's JSON.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from chalice.app import Blueprint, Request, Response

from chalicelib.api.authorizer import deskguard_authorizer
from chalicelib.auth.authorizer import SAFE_METHODS, CsrfRejected, check_csrf
from chalicelib.authz import policy
from chalicelib.authz.principal import Credential, Principal
from chalicelib.core.errors import (
    DeskguardError,
    Forbidden,
    Internal,
    NotFound,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from chalicelib.core.http import error_response
from chalicelib.core.lazy import deferred_names, lazy_module, resolve
from chalicelib.core.observability import bind_principal, current_context, logger
from chalicelib.core.route_classes import route_class
from chalicelib.ratelimit import limiter as ratelimit
from chalicelib.security_events import emit
from chalicelib.tickets.models import is_valid_id

if TYPE_CHECKING:
    # Needed only by denials, 404s and validation: imported on first use (chalicelib.core.lazy).
    from pydantic import BaseModel, ValidationError

    from chalicelib.auth import containment
    from chalicelib.core import schemas as core_schemas
    from chalicelib.identity import users
    from chalicelib.tickets import repository as tickets_repository
else:
    containment = lazy_module("chalicelib.auth.containment")
    core_schemas = deferred_names("chalicelib.core.schemas")
    users = lazy_module("chalicelib.identity.users")
    tickets_repository = lazy_module("chalicelib.tickets.repository")

SchemaT = TypeVar("SchemaT", bound="BaseModel")


@dataclasses.dataclass(frozen=True)
class ApiCall:
    """What a handler gets: the request, the verified principal, and parsing helpers."""

    request: Request
    principal_or_none: Principal | None
    path_params: Mapping[str, str]

    @property
    def principal(self) -> Principal:
        if self.principal_or_none is None:
            raise Unauthenticated()
        return self.principal_or_none

    def header(self, name: str) -> str | None:
        value = self.request.headers.get(name.lower())
        return str(value) if value is not None else None

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or a 400 (never Chalice's own parser).

        The body must be UTF-8 (the contract): a UTF-16/32 body or a `charset` other than
        UTF-8 is refused (415), bytes that are not UTF-8 are a 400. Nesting too deep for the
        parser is a 400 too, not a 500 with a traceback.
        """
        charset = _charset(self.header("content-type"))
        if charset not in (None, "utf-8", "utf8"):
            raise UnsupportedMediaType("The body must be JSON encoded as UTF-8.")
        raw: Any = self.request.raw_body
        if not raw:
            raise ValidationFailed("A JSON object body is required.")
        data = raw if isinstance(raw, bytes) else str(raw).encode("utf-8", "surrogatepass")
        if data.startswith(_UTF16_32_BOMS):
            raise UnsupportedMediaType("The body must be JSON encoded as UTF-8.")
        try:
            body = json.loads(data.decode("utf-8"))
        except RecursionError:
            raise ValidationFailed("The body is nested too deeply.") from None
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("The body is not valid UTF-8 JSON.") from None
        if not isinstance(body, dict):
            raise ValidationFailed("The body must be a JSON object.")
        return body

    def body(self, schema: type[SchemaT]) -> SchemaT:
        """The body validated against a pydantic schema (or a `Deferred` reference to one);
        field errors go in `details`."""
        return validated(schema, self.json_object())

    def query(self, schema: type[SchemaT]) -> SchemaT:
        """The query string validated against a pydantic schema (a list route's is a
        `core.list_query.ListQuery`); a repeated parameter counts once, with its last value;
        field errors go in `details`."""
        return validated(schema, dict(self.request.query_params or {}))


def validated(schema: type[SchemaT], data: object) -> SchemaT:
    """`data` validated against `schema` (a model or a `Deferred` reference to one), or a 400
    with the field errors in `details`."""
    from pydantic import ValidationError

    model: type[SchemaT] = resolve(schema)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValidationFailed(details=validation_details(error)) from None


_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _charset(content_type: str | None) -> str | None:
    """The `charset` parameter of a Content-Type, lower-cased (None if absent)."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


def validation_details(error: ValidationError) -> list[dict[str, Any]]:
    """Field errors for the 400 body; never echoes the rejected value."""
    return [
        {
            "field": ".".join(str(part) for part in item["loc"]) or "body",
            "message": item["msg"],
        }
        for item in error.errors(include_url=False, include_input=False)
    ]


def _principal(request: Request) -> Principal | None:
    authorizer_context = (request.context or {}).get("authorizer") or {}
    try:
        return Principal.from_authorizer_context(authorizer_context)
    except (KeyError, ValueError):
        return None


# Path parameters whose ids can be looked up across organizations after a 404 (one indexed
# key lookup each, never a Scan): the organization that owns the id, or None.
CROSS_ORG_LOOKUPS: dict[str, Callable[[str], str | None]] = {
    "user_id": lambda value: users.organization_of_user(value) if is_valid_id(value) else None,
    "ticket_id": lambda value: (
        tickets_repository.organization_of_ticket(value) if is_valid_id(value) else None
    ),
}


def _foreign_id(principal: Principal, path_params: Mapping[str, str]) -> bool:
    """Whether a 404's path names an id that exists in another organization."""
    for name, lookup in CROSS_ORG_LOOKUPS.items():
        value = path_params.get(name)
        if value is None:
            continue
        try:
            owner = lookup(value)
        except Exception:  # a failed lookup never turns a 404 into a 500
            logger.warning("cross-organization lookup failed", extra={"param": name})
            continue
        if owner is not None and owner != principal.organization_id:
            return True
    return False


def _record_denial(
    error: DeskguardError,
    principal: Principal | None,
    public: bool,
    method: str,
    path_params: Mapping[str, str],
) -> None:
    """Log the denial; hand containment only the signals honest clients do not produce."""
    signal: str | None = getattr(error, "containment_kind", None)
    if isinstance(error, Unauthenticated) and public:
        return  # a failed login: the handler reports it as security.failed_login
    if isinstance(error, Unauthenticated | Forbidden):
        emit("security.authorization_failure", reason=error.code, status=error.status)
        # A CSRF refusal is a third party riding the victim's cookie: never the victim's fault.
        writes = method.upper() not in SAFE_METHODS and not isinstance(error, CsrfRejected)
        if isinstance(error, Forbidden) and writes:
            signal = containment.FORBIDDEN_WRITE
    elif isinstance(error, NotFound) and principal is not None:
        emit("security.authorization_failure", reason="not_found", status=404)
        if _foreign_id(principal, path_params):
            signal = containment.CROSS_ORG
    elif signal is not None:
        emit("security.authorization_failure", reason=signal, status=error.status)
    if signal in containment.SIGNALS and principal is not None:
        containment.record_signal(principal, signal)


def _rate_limit(request: Request, principal: Principal | None) -> ratelimit.Decision | None:
    ctx = current_context()
    return ratelimit.enforce(
        route_class(request.method, ctx.route),
        ip=ctx.ip,
        organization_id=principal.organization_id if principal else None,
        user_id=principal.user_id if principal else None,
    )


# --- Route documentation (read by chalicelib.api.openapi; optional, changes no behaviour) ---
@dataclasses.dataclass(frozen=True)
class RouteDoc:
    """What a route declares about itself for the OpenAPI document.

    `body`/`query`: the pydantic models the handler parses (`call.body`, `call.query`).
    `response`: the success body (a model or a JSON-schema dict); with `paginated=True` it is the
    item of the list envelope (`core.cursors.Page`), and `query` must be a `ListQuery`.
    `errors`: error statuses beyond the generic ones.
    `operation_id`: the stable camelCase `operationId` (`createTicket`); generated clients name
    their functions after it, so it never changes with the path. Every route must declare one
    (the document generator refuses a route without).
    `request_headers`/`response_headers`: header names (keys of `HEADER_DOCS` in
    `chalicelib.api.openapi`) the route reads or sets beyond the ones every route has.
    A `status` in BODYLESS_STATUSES (204, redirects) takes no `response`; `body=NoBody` declares
    a POST that reads no body.
    """

    status: int
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | dict[str, Any] | None = None
    paginated: bool = False
    summary: str | None = None
    errors: tuple[int, ...] = ()
    operation_id: str | None = None
    request_headers: tuple[str, ...] = ()
    response_headers: tuple[str, ...] = ()


ROUTE_DOC_ATTR = "deskguard_route_doc"


# `body=NoBody`: the route reads no request body (a POST that acts on its path alone), documented
# as an operation without `requestBody`, so a missing body is not a gap. A `Deferred` reference
# (the model lives in `core.schemas`), like every model a route declares: see `route_doc`.
NoBody = core_schemas.NoBody


# Success statuses that carry no body: documented without content (a 3xx with `Location`).
BODYLESS_STATUSES = frozenset({204, 301, 302, 303, 307, 308})


def route_doc(view: Callable[..., Any]) -> RouteDoc | None:
    """The documentation a view was registered with (None for views not made by `api_route`),
    its models resolved: routes name them by `Deferred` reference, so that registering a route
    imports none of them (chalicelib.core.lazy)."""
    doc = getattr(view, ROUTE_DOC_ATTR, None)
    if not isinstance(doc, RouteDoc):
        return None
    return dataclasses.replace(
        doc, body=resolve(doc.body), query=resolve(doc.query), response=resolve(doc.response)
    )


# --- end route documentation ---


def api_route(
    bp: Blueprint,
    path: str,
    *,
    methods: list[str],
    status: int = 200,
    public: bool = False,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | dict[str, Any] | None = None,
    paginated: bool = False,
    summary: str | None = None,
    errors: tuple[int, ...] = (),
    operation_id: str | None = None,
    request_headers: tuple[str, ...] = (),
    response_headers: tuple[str, ...] = (),
    content_types: tuple[str, ...] = ("application/json",),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route on a blueprint behind the error boundary and the RBAC gate.

    The keyword arguments after `public` only document the route (see `RouteDoc`), except
    `content_types`: the request bodies Chalice lets through (JSON unless a route, such as the
    one-click unsubscribe that mail clients POST as a form, says otherwise).
    """
    doc = RouteDoc(
        status=status,
        body=body,
        query=query,
        response=response,
        paginated=paginated,
        summary=summary,
        errors=errors,
        operation_id=operation_id,
        request_headers=request_headers,
        response_headers=response_headers,
    )

    def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def view(**path_params: str) -> Response:
            request = bp.current_request
            principal = None if public else _principal(request)
            if principal is not None:
                bind_principal(principal.user_id, principal.organization_id)
            limit: ratelimit.Decision | None = None
            try:
                # Counted before the RBAC check: denied attempts spend the caller's budget too.
                limit = _rate_limit(request, principal)
                resource_path = (request.context or {}).get("resourcePath", "")
                if principal is not None and principal.credential is Credential.COOKIE:
                    # Defense in depth: the REQUEST authorizer already checked the Origin.
                    check_csrf(request.method, request.headers)
                policy.check(principal, request.method, resource_path)
                result = handler(ApiCall(request, principal, path_params), **path_params)
            except DeskguardError as error:
                _record_denial(error, principal, public, request.method, path_params)
                response = error_response(error)
            except Exception:
                logger.exception("unhandled error")
                response = error_response(Internal())
            else:
                response = (
                    result
                    if isinstance(result, Response)
                    else Response(
                        body=result,
                        status_code=status,
                        headers={"Content-Type": "application/json"},
                    )
                )
            if limit is not None:
                for name, value in limit.headers().items():
                    response.headers.setdefault(name, value)
            return response

        setattr(view, ROUTE_DOC_ATTR, doc)

        bp.route(
            path,
            methods=methods,
            authorizer=None if public else deskguard_authorizer,
            content_types=list(content_types),
        )(view)
        return handler

    return decorate
