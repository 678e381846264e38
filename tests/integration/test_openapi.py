"""The generated OpenAPI document: complete, valid and in step with the code (that the committed
file is current is checked with every generated file, in tests/deploy/test_generated_files.py)."""

from __future__ import annotations

from typing import Any

from openapi_spec_validator import validate

from chalicelib.api.openapi import generate, undocumented
from chalicelib.authz.policy import POLICY
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
    served = {(method, path) for path, methods in app.routes.items() for method in methods}
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


def test_every_error_response_uses_the_contract_error_schema(app: Any) -> None:
    document = generate(app)
    shared = document["components"]["responses"]
    for (method, path), operation in _operations(document).items():
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert {"429", "500"} <= set(errors), (method, path)
        for code, response in errors.items():
            name = response["$ref"].rsplit("/", 1)[1]
            schema = shared[name]["content"]["application/json"]["schema"]
            assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
            assert schema["allOf"][1]["properties"]["error"]["properties"]["code"] == {
                "const": name
            }, (method, path, code)
            assert "X-Request-Id" in shared[name]["headers"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert error["properties"]["error"]["required"] == ["code", "message"]


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
