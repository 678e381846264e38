"""The generated OpenAPI document: complete, valid and in step with the code (that the committed
file is current is checked with every generated file, in tests/deploy/test_generated_files.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from chalice.app import Blueprint, Chalice
from openapi_spec_validator import validate

from chalicelib.api.openapi import generate, undocumented
from chalicelib.api.routing import api_route
from chalicelib.authz.policy import POLICY
from chalicelib.core.cursors import DEFAULT_LIMIT, MAX_LIMIT
from chalicelib.core.schemas import HealthOut
from tests.support.assertions import assert_contract_headers


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }


def test_document_is_valid_openapi_3_1(app: Any) -> None:
    document = generate(app)
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_document_is_served_publicly_and_equals_the_generated_one(client: Any, app: Any) -> None:
    response = client.get("/api/openapi.json")
    assert response.status == 200
    assert response.json == generate(app)
    assert_contract_headers(response)


def test_every_route_and_only_routes_are_documented(app: Any) -> None:
    served = {
        (method, path)
        for path, methods in app.routes.items()
        for method in methods
        if method != "OPTIONS"  # CORS preflight: transport, not an operation
    }
    assert set(_operations(generate(app))) == served


def test_security_requirements_follow_the_rbac_table(app: Any) -> None:
    for (method, path), operation in _operations(generate(app)).items():
        rule = POLICY[(method, path)]
        schemes = {name for requirement in operation["security"] for name in requirement}
        if rule.public:
            assert operation["security"] == [], (method, path)
            assert "403" not in operation["responses"], (method, path)
            continue
        assert {"sessionJwt", "sessionCookie"} <= schemes, (method, path)
        assert ("apiToken" in schemes) == rule.api_tokens, (method, path)
        if rule.api_tokens:
            token_requirement = next(r for r in operation["security"] if "apiToken" in r)
            assert token_requirement["apiToken"] == ([rule.scope] if rule.scope else [])
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
        assert operation["x-deskguard-rbac"]["roles"] == sorted(r.value for r in rule.roles)


def test_every_error_response_uses_the_one_shared_error_schema(app: Any) -> None:
    document = generate(app)
    shared = document["components"]["responses"]
    for (method, path), operation in _operations(document).items():
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert {"429", "500"} <= set(errors), (method, path)
        for code, response in errors.items():
            name = response["$ref"].rsplit("/", 1)[1]
            content = shared[name]["content"]["application/json"]
            # One model for a generated client: the shared component itself, no per-status
            # variant; the code each response carries is its example.
            assert content["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path)
            assert content["example"]["error"]["code"] == name
            assert shared[name]["description"].startswith(f"{code} {name}:")
            assert "X-Request-Id" in shared[name]["headers"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert {"Retry-After"} <= set(shared["RATE_LIMITED"]["headers"])
    assert {"Retry-After"} <= set(shared["SERVICE_UNAVAILABLE"]["headers"])


def test_limits_and_enums_come_from_the_schemas(app: Any) -> None:
    schemas = generate(app)["components"]["schemas"]
    login = schemas["LoginBody"]
    assert login["additionalProperties"] is False
    assert login["properties"]["password"]["maxLength"] == 1024
    assert login["properties"]["email"]["maxLength"] == 254
    assert schemas["Role"]["enum"] == ["REQUESTER", "AGENT", "ADMIN"]
    assert schemas["UserOut"]["additionalProperties"] is False


def test_security_schemes_cover_jwt_api_token_and_cookie(app: Any) -> None:
    schemes = generate(app)["components"]["securitySchemes"]
    assert schemes["sessionJwt"] == {**schemes["sessionJwt"], "type": "http", "scheme": "bearer"}
    assert schemes["apiToken"]["scheme"] == "bearer"
    assert schemes["sessionCookie"]["in"] == "cookie"


def test_every_route_declares_its_body_schema(app: Any) -> None:
    """Routes taking a body (POST/PUT/PATCH) must declare `body=` in `api_route`."""
    assert undocumented(app)["body"] == []


def test_every_route_declares_its_response_schema(app: Any) -> None:
    """Without `response=`, the fuzzer cannot check what a route returns."""
    assert undocumented(app)["response"] == []


def test_bodyless_successes_and_bodyless_posts_are_documented_as_such(app: Any) -> None:
    operations = _operations(generate(app))
    download = operations[("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}/download")]
    assert set(download["responses"]) >= {"302", "409"}
    assert "content" not in download["responses"]["302"]
    assert "Location" in download["responses"]["302"]["headers"]
    assert "200" not in download["responses"]
    for route in (
        ("POST", "/api/auth/logout"),
        ("DELETE", "/api/admin/tokens/{token_id}"),
        ("DELETE", "/api/tickets/{ticket_id}/attachments/{attachment_id}"),
    ):
        assert "content" not in operations[route]["responses"]["204"], route
    for route in (("POST", "/api/auth/logout"), ("POST", "/api/admin/tokens/{token_id}/rotate")):
        assert "requestBody" not in operations[route], route
    assert operations[("POST", "/api/tickets")]["requestBody"]["required"] is True


def test_every_success_body_forbids_unknown_fields(app: Any) -> None:
    """A response model that allowed extra fields would let a leaked field through the fuzzer."""
    document = generate(app)
    schemas = document["components"]["schemas"]
    for (method, path), operation in _operations(document).items():
        for code, response in operation["responses"].items():
            if int(code) >= 300 or "content" not in response:
                continue
            schema = response["content"]["application/json"]["schema"]
            if "items" in schema.get("properties", {}):  # the list envelope
                assert schema["additionalProperties"] is False, (method, path)
                schema = schema["properties"]["items"]["items"]
            if "$ref" not in schema:
                assert path == "/api/openapi.json", (method, path)  # the document itself
                continue
            model = schemas[schema["$ref"].rsplit("/", 1)[1]]
            assert model.get("additionalProperties") is False, (method, path)


def test_operation_ids_are_declared_camel_case_and_unique(app: Any) -> None:
    operations = _operations(generate(app))
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][a-zA-Z0-9]*", i) for i in ids), ids
    # The names clients are built on do not change with the paths.
    assert operations[("POST", "/api/tickets")]["operationId"] == "createTicket"
    assert operations[("GET", "/api/tickets")]["operationId"] == "listTickets"
    assert operations[("GET", "/api/tickets/{ticket_id}")]["operationId"] == "getTicket"
    assert operations[("PATCH", "/api/tickets/{ticket_id}")]["operationId"] == "updateTicket"
    assert operations[("POST", "/api/auth/login")]["operationId"] == "login"


def _app_with(*routes: tuple[str, str | None]) -> Chalice:
    test_app = Chalice(app_name="openapi-check")
    bp = Blueprint(__name__)
    for path, operation_id in routes:

        @api_route(
            bp, path, methods=["GET"], public=True, response=HealthOut, operation_id=operation_id
        )
        def view(call: Any) -> dict[str, Any]:
            return {}

    test_app.register_blueprint(bp, url_prefix="/api")
    return test_app


@pytest.mark.parametrize("operation_id", [None, "get_health", "GetHealth", "get-health"])
def test_a_route_without_a_camel_case_operation_id_is_refused(operation_id: str | None) -> None:
    with pytest.raises(ValueError, match="operation_id"):
        generate(_app_with(("/health", operation_id)))


def test_two_routes_with_one_operation_id_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(POLICY, ("GET", "/api/other"), POLICY[("GET", "/api/health")])
    with pytest.raises(ValueError, match="getHealth"):
        generate(_app_with(("/health", "getHealth"), ("/other", "getHealth")))


def test_request_and_response_headers_are_declared(app: Any) -> None:
    document = generate(app)
    operations = _operations(document)
    parameters = document["components"]["parameters"]
    headers = document["components"]["headers"]

    def header_params(operation: dict[str, Any]) -> set[str]:
        refs = [p["$ref"] for p in operation.get("parameters", []) if "$ref" in p]
        return {parameters[ref.rsplit("/", 1)[1]]["name"] for ref in refs}

    patch = operations[("PATCH", "/api/tickets/{ticket_id}")]
    assert header_params(patch) == {"If-Match"}
    assert parameters["If-Match"]["in"] == "header" and parameters["If-Match"]["required"]
    assert {"409", "428"} <= set(patch["responses"])
    assert patch["responses"]["428"] == {"$ref": "#/components/responses/PRECONDITION_REQUIRED"}
    for route in (("POST", "/api/tickets"), ("POST", "/api/tickets/{ticket_id}/comments")):
        assert header_params(operations[route]) == {"Idempotency-Key"}, route
    assert parameters["Idempotency-Key"]["required"] is False
    for route, status in (
        (("POST", "/api/tickets"), "201"),
        (("GET", "/api/tickets/{ticket_id}"), "200"),
        (("PATCH", "/api/tickets/{ticket_id}"), "200"),
    ):
        assert "ETag" in operations[route]["responses"][status]["headers"], route
    download = operations[("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}/download")]
    assert "Location" in download["responses"]["302"]["headers"]
    for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"):
        assert headers[name]["required"] is False
        for operation in operations.values():
            for response in operation["responses"].values():
                if "$ref" not in response:
                    assert name in response["headers"]
    assert headers["ETag"]["required"] and headers["Retry-After"]["required"]


def test_header_patterns_are_the_ones_the_handlers_enforce() -> None:
    from chalicelib.api import openapi, tickets
    from chalicelib.tickets import idempotency

    assert idempotency._KEY.pattern == openapi.IDEMPOTENCY_KEY_PATTERN
    if_match = re.compile(openapi.IF_MATCH_PATTERN)
    for value in ("3", '"3"', 'W/"3"', "123456789012", "", "abc", '"3', "1234567890123", "*"):
        assert bool(if_match.fullmatch(value)) == bool(tickets._IF_MATCH.fullmatch(value)), value


def test_servers_name_the_deployed_stage_and_the_local_stack(app: Any) -> None:
    servers = generate(app)["servers"]
    urls = [server["url"] for server in servers]
    assert urls == [
        "http://localhost:8000",
        "https://{apiId}.execute-api.{region}.amazonaws.com/api",
    ]
    assert set(servers[1]["variables"]) == {"apiId", "region"}


def test_limit_bounds_in_the_document_are_the_code_constants(
    app: Any, client: Any, make_org: Any
) -> None:
    lists = [
        (key, operation)
        for key, operation in _operations(generate(app)).items()
        if any(p.get("name") == "limit" for p in operation.get("parameters", []))
    ]
    assert len(lists) >= 6
    for key, operation in lists:
        (limit,) = [p for p in operation["parameters"] if p.get("name") == "limit"]
        schema = limit["schema"]
        assert (schema["minimum"], schema["maximum"], schema["default"]) == (
            1,
            MAX_LIMIT,
            DEFAULT_LIMIT,
        ), key
        assert "exclusiveMinimum" not in schema and "exclusiveMaximum" not in schema
    org = make_org()
    for value, status in (("0", 400), (str(MAX_LIMIT + 1), 400), ("1", 200), (str(MAX_LIMIT), 200)):
        response = client.get(f"/api/tickets?limit={value}", token=org.agent.token)
        assert response.status == status, value
        if status == 400:
            assert response.json["error"]["details"][0]["field"] == "limit"


def test_list_envelopes_are_named_components(app: Any) -> None:
    document = generate(app)
    listing = _operations(document)[("GET", "/api/tickets")]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TicketOutPage"
    }
    page = document["components"]["schemas"]["TicketOutPage"]
    assert page["properties"]["items"]["items"] == {"$ref": "#/components/schemas/TicketOut"}
    assert page["required"] == ["items", "nextCursor"]


def test_every_time_in_a_body_is_documented_as_date_time(app: Any) -> None:
    schemas = generate(app)["components"]["schemas"]
    time_fields = re.compile(r"(At|^at|^expires|^lastUsed)$")
    found = 0
    for name, schema in schemas.items():
        for field, prop in schema.get("properties", {}).items():
            if not time_fields.search(field):
                continue
            found += 1
            variants = prop.get("anyOf", [prop])
            formats = {v.get("format") for v in variants if v.get("type") != "null"}
            assert formats == {"date-time"}, (name, field, prop)
    assert found >= 10
