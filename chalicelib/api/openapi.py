"""The OpenAPI 3.1 document, generated from what the code declares (never written by hand).

Sources, walked on every call of `generate(app)`:
- `app.routes`: every path and method Chalice serves, with its path parameters;
- each view's `RouteDoc` (`chalicelib.api.routing.api_route` keyword arguments): the pydantic
  models of the body, the query and the success response, the success status, the list envelope,
  the `operationId` (required: generated clients name their functions after it) and the headers
  the route reads or sets beyond the common ones (`HEADER_DOCS`);
- the RBAC table (`chalicelib.authz.policy.POLICY`): public or not, the roles, whether API tokens
  may call the route and the scope they need, as security requirements;
- the error classes (`chalicelib.core.errors`): every error response, all with the one shared
  `Error` schema (so a generated client has one error model);
- the security headers (`chalicelib.core.headers`): documented as required on every response.

CORS preflight views (`OPTIONS`, `chalicelib.api.cors`) are transport, not operations: they are
left out. Routes that declare no schema still appear (generic body / response) and are listed by
`undocumented()` so they can be annotated. `python -m chalicelib.api.openapi [file]` writes the
document (`make generate` writes docs/openapi.json; a test fails when that file is stale).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from chalice.app import Chalice
from pydantic import BaseModel

from chalicelib.api.routing import BODYLESS_STATUSES, RouteDoc, route_doc
from chalicelib.authz.policy import POLICY, SCOPES, Rule
from chalicelib.core.cursors import Page
from chalicelib.core.errors import DeskguardError
from chalicelib.core.headers import HSTS, security_headers
from chalicelib.core.list_query import ListQuery
from chalicelib.core.schemas import NoBody

API_VERSION = "0.1.0"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SESSION_COOKIE = "deskguard_session"
ERROR_REF = "#/components/schemas/Error"
_PATH_PARAM = re.compile(r"{([^}]+)}")
_OPERATION_ID = re.compile(r"^[a-z][a-zA-Z0-9]*$")  # camelCase: `createTicket`
PREFLIGHT_METHOD = "OPTIONS"

# The local stack (`make run`) and a deployed stage: Chalice's stage is `api` and every path starts
# with `/api`, so a stage serves `.../api` + `/api/...`. The local one is first, so tools that take
# the first server (schemathesis) reach paths as written.
SERVERS: list[dict[str, Any]] = [
    {"url": "http://localhost:8000", "description": "The local stack (`make run`)."},
    {
        "url": "https://{apiId}.execute-api.{region}.amazonaws.com/api",
        "description": "A deployed stage (its API Gateway stage URL).",
        "variables": {
            "apiId": {"default": "api-id", "description": "The REST API id."},
            "region": {"default": "eu-west-1", "description": "The stage's AWS region."},
        },
    },
]

# Headers a route may read (`in: header` parameters, by `request_headers=`) or set (response
# headers, by `response_headers=`) beyond the security headers every response carries. The
# patterns are the ones the handlers enforce (`chalicelib/api/tickets.py`,
# `chalicelib.tickets.idempotency`; a test compares them).
IF_MATCH_PATTERN = r'^(?:W/)?"?[0-9]{1,12}"?$'
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]{8,128}$"
HEADER_DOCS: dict[str, dict[str, Any]] = {
    "If-Match": {
        "required": True,
        "description": (
            'The ticket\'s version as read (its `ETag`; `3`, `"3"` and `W/"3"` are '
            "accepted). Missing: 428; malformed: 400; no longer current: 409."
        ),
        "schema": {"type": "string", "pattern": IF_MATCH_PATTERN},
    },
    "Idempotency-Key": {
        "required": False,
        "description": (
            "Makes a retry safe: a repeat with the same key and body returns the first result; "
            "the same key with another body is a 409."
        ),
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    },
    "ETag": {
        "required": True,
        "description": 'The ticket\'s version, quoted (`"3"`): send it back as `If-Match`.',
        "schema": {"type": "string", "pattern": r'^"[0-9]{1,12}"$'},
    },
    "Location": {
        "required": True,
        "description": "Where to go: a short-lived presigned URL.",
        "schema": {"type": "string", "minLength": 1},
    },
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
# Sent whenever the request's route class is rate limited (every route when rate limiting is
# on), so documented as optional on every response (`chalicelib.ratelimit.limiter.Decision`).
RATE_LIMIT_HEADERS: dict[str, str] = {
    "RateLimit-Limit": "Requests allowed in the current window.",
    "RateLimit-Remaining": "Requests left in the current window.",
    "RateLimit-Reset": "Seconds until the window resets.",
}

# Statuses a client may meet on any route: throttling (API Gateway stage limits) and the generic
# 500. The rest depend on the route (see `_error_statuses`).
_ALWAYS = (429, 500)


def _header_names() -> tuple[str, ...]:
    """The security headers every response carries (documented as required response headers).

    HSTS is listed whatever the local switch says: the document describes the deployed API.
    """
    static = [name for name in security_headers() if name != "Strict-Transport-Security"]
    return (*static, "Strict-Transport-Security", "X-Request-Id")


def _error_classes() -> dict[int, DeskguardError]:
    """One representative error per status (the first defined class wins: 400 -> VALIDATION)."""
    found: dict[int, DeskguardError] = {}
    pending: list[type[DeskguardError]] = [DeskguardError]
    while pending:
        cls = pending.pop(0)
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.status, cls())
    return found


def error_schema() -> dict[str, Any]:
    """The contract's error body: `{"error": {"code", "message", "details?"}}`."""
    return {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {
                    "code": {"type": "string", "pattern": "^[A-Z][A-Z0-9_]*$"},
                    "message": {"type": "string", "minLength": 1},
                    "details": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {
                                "field": {"type": "string"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    }


def _header_components() -> dict[str, Any]:
    values = {**security_headers(), "Strict-Transport-Security": HSTS}
    headers: dict[str, Any] = {}
    for name in _header_names():
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if name in values and name != "Strict-Transport-Security":
            schema = {"type": "string", "const": values[name]}
        headers[name] = {"required": True, "schema": schema}
    for name in ("ETag", "Location", "Retry-After"):
        headers[name] = HEADER_DOCS[name]
    for name, description in RATE_LIMIT_HEADERS.items():
        headers[name] = {
            "required": False,
            "description": description,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    return headers


def _parameter_components() -> dict[str, Any]:
    """Request headers as reusable parameters (`#/components/parameters/If-Match`)."""
    return {
        name: {"name": name, "in": "header", **HEADER_DOCS[name]}
        for name in ("If-Match", "Idempotency-Key")
    }


def _security_schemes() -> dict[str, Any]:
    return {
        "sessionJwt": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "Session token from POST /api/auth/login (EdDSA-signed JWT).",
        },
        "apiToken": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "Deskguard API token",
            "description": (
                "API token from POST /api/admin/tokens. The requirement lists the scope the "
                f"route needs; known scopes: {', '.join(sorted(SCOPES))}."
            ),
        },
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "The session cookie set at login (browser clients).",
        },
    }


class _Components:
    """Collects pydantic schemas into `components.schemas` (names must be unique)."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {"Error": error_schema()}
        self._owners: dict[str, tuple[type[BaseModel], str]] = {}

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        name = model.__name__
        owner = self._owners.get(name)
        if owner is None:
            schema = model.model_json_schema(
                ref_template="#/components/schemas/{model}",
                mode="serialization" if mode == "serialization" else "validation",
            )
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name, definition)
            self.schemas[name] = schema
            self._owners[name] = (model, mode)
        elif owner != (model, mode):
            raise ValueError(f"two different schemas are named {name!r}; rename one")
        return {"$ref": f"#/components/schemas/{name}"}

    def inline(self, model: type[BaseModel]) -> dict[str, Any]:
        """A model's schema inline (for query parameters), its nested models as components."""
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            self.schemas.setdefault(def_name, definition)
        return schema


def _success_schema(doc: RouteDoc | None, components: _Components) -> dict[str, Any]:
    if doc is None or doc.response is None:
        schema: dict[str, Any] = {}
    elif isinstance(doc.response, dict):
        schema = doc.response
    else:
        schema = components.ref(doc.response, "serialization")
    if doc is not None and doc.paginated:
        if "$ref" not in schema:
            return Page.json_schema(schema)
        # A named list envelope (`TicketOutPage`), so a generated client has one page model per
        # item type rather than one per operation.
        name = f"{schema['$ref'].rsplit('/', 1)[1]}Page"
        components.schemas.setdefault(name, Page.json_schema(schema))
        return {"$ref": f"#/components/schemas/{name}"}
    return schema


def _error_statuses(method: str, path: str, rule: Rule, doc: RouteDoc | None) -> list[int]:
    statuses = set(_ALWAYS)
    has_params = bool(_PATH_PARAM.search(path))
    if not rule.public:
        statuses |= {401, 403, 404}
    if method in BODY_METHODS:
        statuses |= {400, 413, 415}
    if has_params or (doc is not None and (doc.query is not None or doc.paginated)):
        statuses.add(400)  # a malformed id, query value, `limit` or `cursor`
    if has_params:
        statuses.add(404)
    if method in WRITE_METHODS and not rule.public:
        statuses |= {409, 503}  # 503: a write still contended after retries (Retry-After)
    if doc is not None:
        statuses |= set(doc.errors)
    return sorted(statuses)


def _headers_ref(extra: Iterable[str] = ()) -> dict[str, Any]:
    names = (*_header_names(), *RATE_LIMIT_HEADERS, *extra)
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _responses(
    method: str, path: str, rule: Rule, doc: RouteDoc | None, components: _Components
) -> dict[str, Any]:
    status = doc.status if doc is not None else 200
    extra = list(doc.response_headers) if doc is not None else []
    unknown = sorted(set(extra) - set(HEADER_DOCS))
    if unknown:
        raise ValueError(f"{method} {path}: undocumented response headers {unknown}")
    if 300 <= status < 400 and "Location" not in extra:
        extra.append("Location")
    success: dict[str, Any] = {"description": "Success.", "headers": _headers_ref(extra)}
    if status in BODYLESS_STATUSES:
        if doc is not None and (doc.response is not None or doc.paginated):
            raise ValueError(f"{method} {path}: a {status} response has no body to document")
        if 300 <= status < 400:
            success["description"] = "Redirect."
        else:
            success["description"] = "Success (no content)."
    else:
        success["content"] = {"application/json": {"schema": _success_schema(doc, components)}}
    responses: dict[str, Any] = {str(status): success}
    for code in _error_statuses(method, path, rule, doc):
        responses[str(code)] = {"$ref": f"#/components/responses/{_error(code).code}"}
    return responses


def _error(status: int) -> DeskguardError:
    error = _error_classes().get(status)
    if error is None:
        raise ValueError(f"no error class has status {status}")
    return error


def _error_responses() -> dict[str, Any]:
    """One reusable response per error code, every one with the shared `Error` schema (a
    generated client then has one error model, not one per operation and status); the code
    each carries is in its description and example."""
    responses: dict[str, Any] = {}
    for status, error in sorted(_error_classes().items()):
        if status < 400:
            continue
        responses[error.code] = {
            "description": f"{status} {error.code}: {error.default_message}",
            "headers": _headers_ref(["Retry-After"] if status in {429, 503} else []),
            "content": {
                "application/json": {
                    "schema": {"$ref": ERROR_REF},
                    "example": {"error": {"code": error.code, "message": error.default_message}},
                }
            },
        }
    return responses


def _security(rule: Rule) -> list[dict[str, list[str]]]:
    if rule.public:
        return []
    requirements: list[dict[str, list[str]]] = [{"sessionJwt": []}, {"sessionCookie": []}]
    if rule.api_tokens:
        requirements.append({"apiToken": [rule.scope] if rule.scope else []})
    return requirements


def _parameters(path: str, doc: RouteDoc | None, components: _Components) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {"$ref": f"#/components/parameters/{name}"}
        for name in (doc.request_headers if doc is not None else ())
    ]
    parameters += [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1, "maxLength": 128},
        }
        for name in _PATH_PARAM.findall(path)
    ]
    query_schema: dict[str, Any] = {"properties": {}, "required": []}
    if doc is not None and doc.query is not None:
        query_schema = components.inline(doc.query)
    properties = dict(query_schema.get("properties", {}))
    # A list's filters first, then its page parameters (`limit`, `cursor`).
    paging = [name for name in ListQuery.model_fields if name in properties]
    properties = {
        **{name: schema for name, schema in properties.items() if name not in paging},
        **{name: properties[name] for name in paging},
    }
    required = set(query_schema.get("required", []))
    for name, schema in properties.items():
        parameters.append(
            {"name": name, "in": "query", "required": name in required, "schema": schema}
        )
    return parameters


def _operation_id(method: str, path: str, doc: RouteDoc | None) -> str:
    """The route's declared `operationId`; a route without one (or not camelCase) is refused,
    since a generated client would otherwise name its function after the path."""
    operation_id = doc.operation_id if doc is not None else None
    if operation_id is None or not _OPERATION_ID.fullmatch(operation_id):
        raise ValueError(
            f"{method} {path}: declare `operation_id=` (camelCase, e.g. createTicket) in api_route"
        )
    return operation_id


def _operation(method: str, path: str, view: Any, components: _Components) -> dict[str, Any]:
    rule = POLICY.get((method, path))
    if rule is None:
        raise ValueError(f"{method} {path} has no entry in the RBAC table (policy.POLICY)")
    doc = route_doc(view)
    if (
        doc is not None
        and doc.paginated
        and not (doc.query is not None and issubclass(doc.query, ListQuery))
    ):
        raise ValueError(f"{method} {path}: a list route must declare `query=` (a ListQuery)")
    segments = [part for part in path.split("/") if part and part != "api"]
    operation: dict[str, Any] = {
        "operationId": _operation_id(method, path, doc),
        "tags": [segments[0] if segments else "root"],
        "summary": (doc.summary if doc and doc.summary else (view.__doc__ or "").strip())
        or f"{method} {path}",
        "security": _security(rule),
        "x-deskguard-rbac": {
            "public": rule.public,
            "roles": sorted(role.value for role in rule.roles),
            "apiTokens": rule.api_tokens and not rule.public,
            "scope": rule.scope,
        },
    }
    unknown = sorted(set(doc.request_headers if doc else ()) - {"If-Match", "Idempotency-Key"})
    if unknown:
        raise ValueError(f"{method} {path}: undocumented request headers {unknown}")
    parameters = _parameters(path, doc, components)
    if parameters:
        operation["parameters"] = parameters
    if method in BODY_METHODS and not (doc is not None and doc.body is NoBody):
        body = doc.body if doc is not None else None
        operation["requestBody"] = {
            "required": body is not None,
            "content": {
                "application/json": {
                    "schema": components.ref(body, "validation") if body else {"type": "object"}
                }
            },
        }
    operation["responses"] = _responses(method, path, rule, doc, components)
    return operation


def generate(app: Chalice) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route the app serves."""
    components = _Components()
    paths: dict[str, Any] = {}
    seen: dict[str, str] = {}
    for path in sorted(app.routes):
        for method in sorted(app.routes[path]):
            if method == PREFLIGHT_METHOD:
                continue
            entry = app.routes[path][method]
            operation = _operation(method, path, entry.view_function, components)
            previous = seen.setdefault(operation["operationId"], f"{method} {path}")
            if previous != f"{method} {path}":
                raise ValueError(
                    f"operationId {operation['operationId']!r} is used by {previous} and "
                    f"{method} {path}"
                )
            paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Deskguard API",
            "version": API_VERSION,
            "description": (
                "Multi-tenant helpdesk ticketing API. Generated from the route declarations, the "
                "request/response schemas and the RBAC table; do not edit by hand."
            ),
        },
        "servers": SERVERS,
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "responses": _error_responses(),
            "parameters": _parameter_components(),
            "headers": _header_components(),
            "securitySchemes": _security_schemes(),
        },
    }


def undocumented(app: Chalice) -> dict[str, list[str]]:
    """Routes whose declaration lacks a schema: `body` (a body method without a body model, or
    `NoBody`) and `response` (no response schema, unless the success status has no body). Both
    lists should be empty."""
    missing: dict[str, list[str]] = {"body": [], "response": []}
    for path in sorted(app.routes):
        for method in sorted(app.routes[path]):
            if method == PREFLIGHT_METHOD:
                continue
            doc = route_doc(app.routes[path][method].view_function)
            if method in BODY_METHODS and (doc is None or doc.body is None):
                missing["body"].append(f"{method} {path}")
            if doc is None or (doc.response is None and doc.status not in BODYLESS_STATUSES):
                missing["response"].append(f"{method} {path}")
    return missing


def render(app: Chalice) -> str:
    """The document as the exact text committed in docs/openapi.json."""
    return json.dumps(generate(app), indent=2, ensure_ascii=False) + "\n"
