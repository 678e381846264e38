"""Hostile bodies: deep nesting, non-UTF-8 encodings, names that lie about what they are."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.logcheck import lines_since


def _errors_logged(mark: int) -> list[str]:
    return [line for line in lines_since(mark) if '"level":"ERROR"' in line or "Traceback" in line]


@pytest.mark.parametrize("depth", [2_000, 12_000])
def test_deeply_nested_body_is_a_400_without_a_traceback(
    client: Any, make_org: Any, log_mark: int, depth: int
) -> None:
    org = make_org()
    nested = "[" * depth
    login = client.post("/api/auth/login", body=nested)  # unauthenticated
    ticket = client.post("/api/tickets", body=nested, token=org.agent.token)
    for response in (login, ticket):
        assert response.status == 400
        assert response.json["error"]["code"] == "VALIDATION_ERROR"
    object_nested = '{"a":' * depth
    assert client.post("/api/tickets", body=object_nested, token=org.agent.token).status == 400
    assert _errors_logged(log_mark) == []


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le"])
def test_bodies_must_be_utf8(client: Any, make_org: Any, encoding: str) -> None:
    org = make_org()
    payload = json.dumps({"subject": "Encoded", "body": "Not UTF-8."}).encode(encoding)
    response = client.post("/api/tickets", body=payload, token=org.agent.token)
    assert response.status in (400, 415)
    assert response.json["error"]["code"] in ("VALIDATION_ERROR", "UNSUPPORTED_MEDIA_TYPE")
    listed = client.get("/api/tickets", token=org.agent.token).json["items"]
    assert listed == []


def test_a_charset_other_than_utf8_is_refused(client: Any, make_org: Any) -> None:
    org = make_org()
    body = {"subject": "Declared", "body": "As UTF-16."}
    refused = client.post(
        "/api/tickets",
        json=body,
        token=org.agent.token,
        headers={"Content-Type": "application/json; charset=utf-16"},
    )
    assert refused.status == 415
    assert refused.json["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    accepted = client.post(
        "/api/tickets",
        json=body,
        token=org.agent.token,
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert accepted.status == 201


HOSTILE = {
    "nul": "invoice\x00.pdf",
    "cr": "line\rbreak",
    "lf": "Subject\nBcc: everyone",
    "rtl-override": "invoice \u202efdp.exe",
    "rtl-isolate": "name \u2067evil\u2069",
    "line-separator": "one\u2028two",
}


@pytest.mark.parametrize("value", list(HOSTILE.values()), ids=list(HOSTILE))
def test_names_and_subjects_refuse_controls(client: Any, make_org: Any, value: str) -> None:
    org = make_org()
    admin = org.admin
    cases = [
        ("/api/tickets", {"subject": value, "body": "text"}, "subject"),
        (
            "/api/admin/users",
            {
                "email": f"x{len(value)}@{org.id}.example",
                "name": value,
                "role": "AGENT",
            },
            "name",
        ),
        (
            "/api/admin/tokens",
            {"name": value, "scopes": ["tickets:read"], "expiresInDays": 1},
            "name",
        ),
    ]
    for path, body, field in cases:
        response = client.post(path, json=body, token=admin.token)
        assert response.status == 400, (path, response.body)
        assert response.json["error"]["code"] == "VALIDATION_ERROR"
        assert [d["field"] for d in response.json["error"]["details"]] == [field]
    renamed = client.patch(
        f"/api/admin/users/{org.agent.id}", json={"name": value}, token=admin.token
    )
    assert renamed.status == 400
    assert [d["field"] for d in renamed.json["error"]["details"]] == ["name"]


def test_ordinary_unicode_names_still_pass(client: Any, make_org: Any) -> None:
    org = make_org()
    for name in ("Zoë Ångström", "محمد", "李小龍", "Ölçü — test"):
        response = client.patch(
            f"/api/admin/users/{org.agent.id}", json={"name": name}, token=org.admin.token
        )
        assert response.status == 200, response.body
        assert response.json["name"] == name
