"""The authorization matrix, generated from the RBAC table (`policy.POLICY`) and `app.routes`.

For every route x caller {anonymous, REQUESTER, AGENT, ADMIN} x organization {own, foreign} x
credential {session JWT, API token with the route's scope, API token without it}, the expected
status is derived from the table alone:

- public route                               -> anything but 401/403 (and never 5xx)
- no or a garbage credential                 -> 401
- role not in the rule                       -> 403
- API token on a session-only route, or an
  API token lacking the rule's scope         -> 403
- allowed, foreign organization's object     -> 404, never 403 (existence does not leak)
- allowed, own organization                  -> not 401/403 (and not 404 when the path names an
                                                object made for the test)

Every denial's body is the bare error shape and carries no object data (ids of the target
organization's objects, its id, its users' e-mails); a foreign caller's successful responses carry
none either (lists must not mix organizations). Every success has the route's documented status and
a body its response model accepts strictly (an undeclared field fails).

"Own" and "foreign": objects live in a target organization; the caller belongs to it (own) or to a
second organization (foreign). Objects named by path parameters come from OBJECT_MAKERS
(tests/support/objects.py), keyed by the path up to the parameter, so a new object-bearing route
needs one line there; request bodies default to a minimal valid instance of the route's documented
body schema (REQUEST_MAKERS overrides it per route). A route without a table entry, a table entry
without a route, or a path parameter without a maker fails the suite.

API tokens plug in through API_TOKEN_MINTER; while it is None those cases are skipped.

Why one module of this size: the matrix is one table (routes x callers x organizations x
credentials) and its object makers, expectations and leak checks must agree with each other.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import app as app_module
from chalicelib.api.openapi import generate
from chalicelib.api.routing import BODYLESS_STATUSES, route_doc
from chalicelib.auth.sessions import issue_session
from chalicelib.authz.policy import POLICY, SCOPES, Rule
from chalicelib.authz.principal import Role
from chalicelib.tickets import repository as ticket_repository
from tests.support.objects import PATH_PARAMETER, make_objects
from tests.support.objects import ticket as make_ticket
from tests.support.orgs import TestOrg, TestUser, mint_api_token

ROLES = (Role.REQUESTER, Role.AGENT, Role.ADMIN)
# CORS preflights (OPTIONS on every path) are public and run no handler: tests/integration/
# test_cors.py covers them; the matrix covers every route that acts.
PREFLIGHT = "OPTIONS"
ROUTES = sorted(
    (method, path)
    for path, methods in app_module.app.routes.items()
    for method in methods
    if method != PREFLIGHT
)
ACTING_RULES = {key: rule for key, rule in POLICY.items() if key[0] != PREFLIGHT}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_PARAM = PATH_PARAMETER

# --- Extension points: object, request and token makers ------------------------------------

# A scope for a token on a route that names none (a token must carry at least one): unrelated to
# every route such a token is sent to, so it grants nothing by itself.
_NEUTRAL_SCOPE = "admin:tokens"


def _mint(client: Any, org: TestOrg, user: TestUser, scopes: frozenset[str]) -> str:
    return mint_api_token(user, sorted(scopes) or [_NEUTRAL_SCOPE], name="matrix")


# An API token of `user` (in `org`) carrying exactly `scopes`: (client, org, user, scopes) -> the
# bearer secret, minted through the real token service. Set to None, the API-token rows are skipped.
Minter = Callable[[Any, TestOrg, TestUser, frozenset[str]], str]
API_TOKEN_MINTER: Minter | None = _mint


@dataclasses.dataclass
class RequestParts:
    body: Any = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


# (METHOD, path) -> a function (client, target org, path params) -> the request to send, when the
# minimal body of the documented schema is not a request the route can act on.
RequestMaker = Callable[[Any, TestOrg, dict[str, str]], RequestParts]
_unique = itertools.count(1)


def _ticket_patch(client: Any, org: TestOrg, params: dict[str, str]) -> RequestParts:
    """A subject change (every role may make it) at the ticket's current version."""
    item = ticket_repository.get_ticket(org.id, params["ticket_id"])
    assert item is not None
    return RequestParts(
        body={"subject": "Renamed by the matrix"}, headers={"If-Match": f'"{int(item.version)}"'}
    )


def _ticket_merge(client: Any, org: TestOrg, params: dict[str, str]) -> RequestParts:
    """A merge into another open ticket of the organization, at the source's current version."""
    item = ticket_repository.get_ticket(org.id, params["ticket_id"])
    assert item is not None
    return RequestParts(
        body={"intoId": make_ticket(client, org, params)},
        headers={"If-Match": f'"{int(item.version)}"'},
    )


def _bulk(client: Any, org: TestOrg, params: dict[str, str]) -> RequestParts:
    ticket_id = make_ticket(client, org, params)
    return RequestParts(body={"action": "set_priority", "priority": "HIGH", "ids": [ticket_id]})


REQUEST_MAKERS: dict[tuple[str, str], RequestMaker] = {
    ("POST", "/api/auth/login"): lambda client, org, params: RequestParts(
        body=org.requester.login_body()
    ),
    ("PATCH", "/api/tickets/{ticket_id}"): _ticket_patch,
    ("POST", "/api/tickets/bulk"): _bulk,
    ("POST", "/api/tickets/{ticket_id}/merge"): _ticket_merge,
    ("POST", "/api/tickets/{ticket_id}/attachments"): lambda client, org, params: RequestParts(
        body={"filename": "report.pdf", "contentType": "application/pdf", "size": 2048}
    ),
    ("POST", "/api/admin/tokens"): lambda client, org, params: RequestParts(
        body={"name": "matrix", "scopes": ["tickets:read"], "expiresInDays": 30}
    ),
    ("POST", "/api/admin/users"): lambda client, org, params: RequestParts(
        body={
            "email": f"invitee-{next(_unique)}@matrix.example",
            "name": "Invitee",
            "role": "AGENT",
        }
    ),
    ("PATCH", "/api/admin/users/{user_id}"): lambda client, org, params: RequestParts(
        body={"name": "Renamed by the matrix"}
    ),
    ("POST", "/api/admin/webhooks"): lambda client, org, params: RequestParts(
        body={"url": "https://hooks.example.com/matrix", "events": ["ticket.created"]}
    ),
    ("PATCH", "/api/admin/webhooks/{webhook_id}"): lambda client, org, params: RequestParts(
        body={"active": False}
    ),
    ("POST", "/api/admin/groups"): lambda client, org, params: RequestParts(
        body={"name": f"Matrix group {next(_unique)}"}
    ),
    ("PATCH", "/api/admin/groups/{group_id}"): lambda client, org, params: RequestParts(
        body={"description": "Renamed by the matrix"}
    ),
    ("PATCH", "/api/admin/settings"): lambda client, org, params: RequestParts(
        body={"agentTicketVisibility": "groups"}
    ),
    ("PUT", "/api/admin/groups/{group_id}/members"): lambda client, org, params: RequestParts(
        body={"userIds": [org.agent.id]}
    ),
    ("PUT", "/api/admin/sla/calendar"): lambda client, org, params: RequestParts(
        body={
            "timeZone": "America/New_York",
            "workingHours": [{"day": "mon", "start": "09:00", "end": "17:00"}],
            "holidays": ["2026-11-26"],
        }
    ),
    ("PUT", "/api/admin/sla/policy"): lambda client, org, params: RequestParts(
        body={
            "targets": [{"priority": "HIGH", "firstResponseMinutes": 60, "resolutionMinutes": 480}]
        }
    ),
}

# --- Expectations ---------------------------------------------------------------------------

ANONYMOUS = "anonymous"
NONE, GARBAGE = "no credential", "garbage bearer"
SESSION, TOKEN_WITH, TOKEN_WITHOUT = "session JWT", "API token with scope", "API token without"
OWN, FOREIGN = "own org", "foreign org"
ALLOWED = "allowed"


@dataclasses.dataclass(frozen=True)
class Case:
    method: str
    path: str
    caller: str  # ANONYMOUS or a role value
    org: str
    credential: str

    def __str__(self) -> str:
        return f"{self.method} {self.path} as {self.caller} ({self.org}, {self.credential})"


def expected(rule: Rule, case: Case, names_objects: bool) -> str:  # noqa: PLR0911
    """The outcome the RBAC table prescribes for a case: ALLOWED, '401', '403' or '404'."""
    if rule.public:
        return ALLOWED
    if case.caller == ANONYMOUS:
        return "401"
    if Role(case.caller) not in rule.roles:
        return "403"
    if case.credential in (TOKEN_WITH, TOKEN_WITHOUT):
        if not rule.api_tokens:
            return "403"
        if case.credential == TOKEN_WITHOUT and rule.scope is not None:
            return "403"
    if case.org == FOREIGN and names_objects:
        return "404"
    return ALLOWED


def cases_for(method: str, path: str, family: str) -> list[Case]:
    """The matrix rows of one route for one credential family ('session' or 'api_token')."""
    if family == "session":
        rows = [Case(method, path, ANONYMOUS, OWN, cred) for cred in (NONE, GARBAGE)]
        credentials: tuple[str, ...] = (SESSION,)
    else:
        rows = []
        credentials = (TOKEN_WITH, TOKEN_WITHOUT)
    for role in ROLES:
        for org in (OWN, FOREIGN):
            rows.extend(Case(method, path, role.value, org, cred) for cred in credentials)
    return rows


FAMILIES = ("session", "api_token")


def token_scopes(rule: Rule, credential: str) -> frozenset[str]:
    if credential == TOKEN_WITH:
        return frozenset({rule.scope}) if rule.scope else frozenset()
    return SCOPES - {rule.scope} if rule.scope else frozenset()


# --- Building requests ----------------------------------------------------------------------


def minimal_instance(schema: dict[str, Any], components: dict[str, Any]) -> Any:  # noqa: PLR0911
    """The smallest value a JSON schema accepts (required fields only, lower bounds)."""
    if "$ref" in schema:
        return minimal_instance(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"] or schema[key]
            return minimal_instance(options[0], components)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: minimal_instance(properties.get(name, {}), components)
            for name in schema.get("required", [])
        }
    if kind == "array":
        item = minimal_instance(schema.get("items", {}), components)
        return [item] * int(schema.get("minItems", 0))
    if kind == "string":
        return "x" * max(1, int(schema.get("minLength", 1)))
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return None


def request_parts(  # noqa: PLR0917 (one request's every ingredient)
    client: Any,
    method: str,
    path: str,
    org: TestOrg,
    params: dict[str, str],
    document: dict[str, Any],
) -> RequestParts:
    maker = REQUEST_MAKERS.get((method, path))
    if maker is not None:
        return maker(client, org, params)
    operation = document["paths"][path][method.lower()]
    body_schema = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if body_schema is None:
        return RequestParts()
    return RequestParts(
        body=minimal_instance(body_schema["schema"], document["components"]["schemas"])
    )


def success_body_problem(app: Any, case: Case, status: int, body: bytes) -> str | None:
    """None if a success response is what the route documents (status, and the body against its
    response model, strictly: a field the model does not declare is an error), else what is off."""
    doc = route_doc(app.routes[case.path][case.method].view_function)
    assert doc is not None
    if status != doc.status:
        return f"{case}: success status {status}, documented {doc.status}"
    if doc.status in BODYLESS_STATUSES:
        return f"{case}: a {status} must have no body" if body else None
    if not isinstance(doc.response, type):
        return None  # a plain JSON schema (the OpenAPI document itself)
    model: type[BaseModel] = doc.response
    try:
        if doc.paginated:
            page = json.loads(body)
            if set(page) != {"items", "nextCursor"}:
                return f"{case}: list envelope has keys {sorted(page)}"
            for item in page["items"]:
                model.model_validate_json(json.dumps(item), strict=True)
        else:
            model.model_validate_json(body, strict=True)
    except ValidationError as error:
        return f"{case}: body does not match {model.__name__}: {error}"
    return None


def leak_markers(target: TestOrg, params: dict[str, str]) -> set[str]:
    """Strings that identify the target organization's data."""
    users = (target.admin, target.agent, target.requester)
    return {target.id, *params.values(), *(u.email for u in users), *(u.id for u in users)}


def credential_for(client: Any, rule: Rule, case: Case, orgs: dict[str, TestOrg]) -> str | None:
    if case.caller == ANONYMOUS:
        return None if case.credential == NONE else "not-a-real-token"
    org = orgs[case.org]
    user = {"REQUESTER": org.requester, "AGENT": org.agent, "ADMIN": org.admin}[case.caller]
    if case.credential == SESSION:  # a fresh session per case: a logout case cannot leak over
        return issue_session(user.id, org.id, user.role).token
    assert API_TOKEN_MINTER is not None
    return API_TOKEN_MINTER(client, org, user, token_scopes(rule, case.credential))


def check(
    case: Case, outcome: str, status: int, body: bytes, *, markers: set[str], public: bool
) -> str | None:
    """None if the response matches the expectation, else what went wrong."""
    text = body.decode("utf-8", "replace")
    if status >= 500:
        return f"{case}: {status} server error"
    if outcome == ALLOWED:
        refused = {401, 403, 404} if case.org == OWN and _PARAM.search(case.path) else {401, 403}
        if status in refused:
            return f"{case}: expected to pass the gate, got {status} {text[:200]}"
    elif str(status) != outcome:
        return f"{case}: expected {outcome}, got {status} {text[:200]}"
    denied = status in (401, 403, 404)
    if denied:
        payload = json.loads(body)
        if set(payload) != {"error"} or set(payload["error"]) - {"code", "message"}:
            return f"{case}: denial body is not the bare error shape: {text[:200]}"
    if not public and (denied or case.org == FOREIGN):
        leaked = sorted(marker for marker in markers if marker in text)
        if leaked:
            return f"{case}: response leaks target organization data {leaked}"
    return None


# --- Tests ----------------------------------------------------------------------------------


def test_every_route_has_exactly_one_rbac_rule() -> None:
    served = set(ROUTES)
    assert sorted(served - set(ACTING_RULES)) == [], "routes without an entry in policy.POLICY"
    assert sorted(set(ACTING_RULES) - served) == [], "policy.POLICY entries for missing routes"
    preflights = {key: rule for key, rule in POLICY.items() if key[0] == PREFLIGHT}
    assert {path for _, path in preflights} == {path for _, path in served}
    assert all(rule.public for rule in preflights.values())


def test_matrix_covers_every_route_and_every_caller(capsys: Any) -> None:
    """The rows the matrix runs cover every route the app serves (each has a table entry) for
    every kind of caller: anonymous with no and with a garbage credential, and each role of the
    product, from its own and from a foreign organization, with a session and (where tokens
    plug in) with an API token that has the route's scope and one that lacks it."""
    served = {
        (method, path)
        for path, methods in app_module.app.routes.items()
        for method in methods
        if method != PREFLIGHT
    }
    assert served == set(ACTING_RULES), "the RBAC table and the served routes differ"
    assert set(ROUTES) == served, "the matrix is not parametrized over every served route"
    credentials = [SESSION] + ([TOKEN_WITH, TOKEN_WITHOUT] if API_TOKEN_MINTER else [])
    expected_rows = {
        (method, path, ANONYMOUS, OWN, credential)
        for method, path in served
        for credential in (NONE, GARBAGE)
    } | {
        (method, path, role.value, org, credential)
        for method, path in served
        for role in Role
        for org in (OWN, FOREIGN)
        for credential in credentials
    }
    families = FAMILIES if API_TOKEN_MINTER is not None else ("session",)
    rows = [
        (case.method, case.path, case.caller, case.org, case.credential)
        for method, path in ROUTES
        for family in families
        for case in cases_for(method, path, family)
    ]
    with capsys.disabled():
        print(f"\nauthz matrix: {len(rows)} cases over {len(ROUTES)} routes")
    assert len(rows) == len(set(rows)), "a matrix row runs twice"
    assert sorted(expected_rows - set(rows)) == [], "cases the matrix does not run"
    assert sorted(set(rows) - expected_rows) == [], "cases outside the route x caller set"


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_authz_matrix(route: tuple[str, str], client: Any, make_org: Any, app: Any) -> None:
    """Both credential families of one route (one moto account and one pair of organizations
    per route keeps the suite fast)."""
    method, path = route
    rule = POLICY.get(route)
    assert rule is not None, f"{method} {path} has no entry in policy.POLICY"
    document = generate(app)
    target, foreign = make_org(), make_org()
    orgs = {OWN: target, FOREIGN: foreign}
    names_objects = bool(_PARAM.search(path))
    shared_params = make_objects(client, target, path)
    failures: list[str] = []
    families = FAMILIES if API_TOKEN_MINTER is not None else ("session",)
    for case in (case for family in families for case in cases_for(method, path, family)):
        # A write may consume its object (delete, deactivate): give each write case fresh ones.
        params = make_objects(client, target, path) if method in WRITE_METHODS else shared_params
        parts = request_parts(client, method, path, target, params, document)
        url = path.format(**params)
        token = credential_for(client, rule, case, orgs)
        response = client.request(method, url, json=parts.body, headers=parts.headers, token=token)
        failure = check(
            case,
            expected(rule, case, names_objects),
            response.status,
            response.body,
            markers=leak_markers(target, params),
            public=rule.public,
        )
        if failure is None and 200 <= response.status < 400:
            failure = success_body_problem(app, case, response.status, response.body)
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)
    if API_TOKEN_MINTER is None:
        pytest.skip("API-token rows skipped: set API_TOKEN_MINTER (session rows passed)")


# Ticket routes a requester may reach at all (staff-only ones, like merging, are 403 by the table).
TICKET_ROUTES = [
    (method, path)
    for method, path in ROUTES
    if "{ticket_id}" in path and Role.REQUESTER in POLICY[(method, path)].roles
]


def test_requester_cannot_reach_another_requesters_ticket(
    client: Any, make_org: Any, app: Any
) -> None:
    """The domain rule under the table: a requester passes the RBAC gate on every ticket route,
    yet another requester's ticket (and everything under it) is a 404 that leaks nothing, with a
    session and with an API token carrying every scope."""
    assert TICKET_ROUTES, "no route names a {ticket_id}"
    document = generate(app)
    org = make_org()
    outsider = org.add_user(Role.REQUESTER)
    credentials = {
        SESSION: lambda: issue_session(outsider.id, org.id, outsider.role).token,
        TOKEN_WITH: lambda: mint_api_token(outsider, sorted(SCOPES), name="outsider"),
    }
    failures: list[str] = []
    for method, path in TICKET_ROUTES:
        params = make_objects(client, org, path)
        parts = request_parts(client, method, path, org, params, document)
        for credential, mint in credentials.items():
            case = Case(
                method, path, "REQUESTER", "own org, another requester's ticket", credential
            )
            response = client.request(
                method, path.format(**params), json=parts.body, headers=parts.headers, token=mint()
            )
            failure = check(
                case,
                "404",
                response.status,
                response.body,
                markers={*params.values(), org.requester.id, org.requester.email},
                public=False,
            )
            if failure:
                failures.append(failure)
        # The same request from the ticket's own requester passes: the 404 above is ownership.
        owner = Case(method, path, "REQUESTER", OWN, SESSION)
        response = client.request(
            method,
            path.format(**params),
            json=parts.body,
            headers=parts.headers,
            token=org.requester.token,
        )
        failure = check(owner, ALLOWED, response.status, response.body, markers=set(), public=False)
        if failure:
            failures.append(failure)
    assert not failures, "\n".join(failures)


def test_expectations_follow_the_table() -> None:
    """The derivation itself, on a rule unlike any registered route."""
    rule = Rule(frozenset({Role.ADMIN}), scope="admin:users")
    path = "/api/x/{id}"

    def outcome(caller: str, org: str, credential: str) -> str:
        return expected(rule, Case("GET", path, caller, org, credential), names_objects=True)

    assert outcome(ANONYMOUS, OWN, NONE) == "401"
    assert outcome("AGENT", OWN, SESSION) == "403"
    assert outcome("ADMIN", OWN, TOKEN_WITHOUT) == "403"
    assert outcome("ADMIN", FOREIGN, TOKEN_WITHOUT) == "403"
    assert outcome("ADMIN", FOREIGN, TOKEN_WITH) == "404"
    assert outcome("ADMIN", FOREIGN, SESSION) == "404"
    assert outcome("ADMIN", OWN, TOKEN_WITH) == ALLOWED
    session_only = dataclasses.replace(rule, api_tokens=False)
    assert expected(session_only, Case("GET", path, "ADMIN", OWN, TOKEN_WITH), True) == "403"
    assert token_scopes(rule, TOKEN_WITHOUT) == SCOPES - {"admin:users"}


def test_check_catches_wrong_status_and_leaks() -> None:
    case = Case("GET", "/api/x/{id}", "ADMIN", FOREIGN, SESSION)
    error = b'{"error": {"code": "NOT_FOUND", "message": "Not found."}}'
    assert check(case, "404", 404, error, markers={"t-123"}, public=False) is None
    assert "expected 404, got 403" in str(
        check(case, "404", 403, error, markers=set(), public=False)
    )
    leaky = b'{"error": {"code": "NOT_FOUND", "message": "ticket t-123 is elsewhere"}}'
    assert "leaks" in str(check(case, "404", 404, leaky, markers={"t-123"}, public=False))
    listing = b'{"items": [{"id": "t-123"}], "nextCursor": null}'
    assert "leaks" in str(check(case, ALLOWED, 200, listing, markers={"t-123"}, public=False))
    own = dataclasses.replace(case, org=OWN)
    assert "pass the gate" in str(check(own, ALLOWED, 404, error, markers=set(), public=False))


def test_success_bodies_are_checked_against_the_model() -> None:
    """The success check itself: a leaked field, a wrong status, a body on a 204 are caught."""
    app = app_module.app
    me = Case("GET", "/api/me", "ADMIN", OWN, SESSION)
    user = {"id": "u1", "email": "a@b.example", "name": "A", "role": "ADMIN", "organizationId": "o"}
    assert success_body_problem(app, me, 200, json.dumps(user).encode()) is None
    leaky = json.dumps({**user, "passwordHash": "x"}).encode()
    assert "does not match UserOut" in str(success_body_problem(app, me, 200, leaky))
    assert "documented 200" in str(success_body_problem(app, me, 201, json.dumps(user).encode()))
    listing = Case("GET", "/api/admin/users", "ADMIN", OWN, SESSION)
    page = {"items": [{**user, "active": True, "orgSecret": 1}], "nextCursor": None}
    assert "AdminUserOut" in str(success_body_problem(app, listing, 200, json.dumps(page).encode()))
    logout = Case("POST", "/api/auth/logout", "ADMIN", OWN, SESSION)
    assert success_body_problem(app, logout, 204, b"") is None
    assert "no body" in str(success_body_problem(app, logout, 204, b"{}"))
