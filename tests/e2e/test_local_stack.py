"""`make run`'s stack over real HTTP: health, headers, demo logins, cross-tenant isolation, stop."""

from __future__ import annotations

import signal
import socket
from typing import Any

import requests

from tests.support.assertions import CONTRACT_HEADERS


def _check_headers(response: requests.Response) -> None:
    for name, value in CONTRACT_HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers.get("Permissions-Policy")
    assert "max-age=" in response.headers.get("Strict-Transport-Security", "")
    assert response.headers.get("X-Request-Id")


def test_health_over_http_with_contract_headers(local_stack: dict[str, Any]) -> None:
    response = requests.get(f"{local_stack['url']}/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stage": "local"}
    _check_headers(response)


def test_unknown_route_over_http_is_contract_404(local_stack: dict[str, Any]) -> None:
    response = requests.get(f"{local_stack['url']}/api/nope", timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    _check_headers(response)


def test_demo_credentials_file_and_logins(local_stack: dict[str, Any]) -> None:
    credentials = local_stack["credentials"]
    assert credentials["apiUrl"] == local_stack["url"]
    assert [org["id"] for org in credentials["organizations"]] == ["acme", "globex"]
    for org in credentials["organizations"]:
        assert sorted(u["role"] for u in org["users"]) == [
            "ADMIN",
            "AGENT",
            "REQUESTER",
            "REQUESTER",
        ]
        assert {u["organization"] for u in org["users"]} == {org["id"]}
        user = org["users"][0]
        login = requests.post(
            f"{local_stack['url']}/api/auth/login",
            json={k: user[k] for k in ("organization", "email", "password")},
            timeout=30,
        )
        assert login.status_code == 200
        _check_headers(login)
        me = requests.get(
            f"{local_stack['url']}/api/me",
            headers={"Authorization": f"Bearer {login.json()['token']}"},
            timeout=10,
        )
        assert me.status_code == 200
        assert me.json()["organizationId"] == org["id"]


def test_ctrl_c_stops_everything(private_stack: dict[str, Any]) -> None:
    local_stack = private_stack
    process = local_stack["process"]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=20) == 0
    for port in (local_stack["port"], local_stack["moto_port"]):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
