"""Identity over real HTTP on `make run`'s stack: cookie sessions with CSRF, logout, and the admin
CLI pointed at the stack's moto server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import requests

from tests.support.stack import ROOT


def _admin(local_stack: dict[str, Any], org_id: str = "acme") -> dict[str, str]:
    org = next(o for o in local_stack["credentials"]["organizations"] if o["id"] == org_id)
    return dict(next(u for u in org["users"] if u["role"] == "ADMIN"))


def test_cookie_session_and_csrf_over_http(local_stack: dict[str, Any]) -> None:
    url = local_stack["url"]
    user = _admin(local_stack)
    session = requests.Session()
    credentials = {k: user[k] for k in ("organization", "email", "password")}
    login = session.post(f"{url}/api/auth/login", json=credentials, timeout=30)
    assert login.status_code == 200
    cookie = login.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" in cookie
    value = cookie.split(";")[0]
    jar = {"Cookie": value}
    me = requests.get(f"{url}/api/me", headers=jar, timeout=10)
    assert me.status_code == 200 and me.json()["organizationId"] == "acme"
    forged = requests.post(
        f"{url}/api/auth/logout", headers={**jar, "Origin": "https://evil.example"}, timeout=10
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "FORBIDDEN"
    assert requests.get(f"{url}/api/me", headers=jar, timeout=10).status_code == 200
    logout = requests.post(f"{url}/api/auth/logout", headers={**jar, "Origin": url}, timeout=10)
    assert logout.status_code == 204
    after = requests.get(f"{url}/api/me", headers=jar, timeout=10)
    assert after.status_code == 401 and after.json()["error"]["code"] == "UNAUTHENTICATED"


def test_admin_cli_against_the_local_stack(local_stack: dict[str, Any]) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DESKGUARD_", "JWT_", "BCRYPT_"))
    }
    env["DESKGUARD_STAGE"] = "local"
    endpoint = f"http://127.0.0.1:{local_stack['moto_port']}"
    user = _admin(local_stack, "globex")
    out = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [
            sys.executable, "-m", "cli", "--endpoint-url", endpoint, "tokens", "issue",
            "--org", "globex", "--user-email", user["email"], "--name", "e2e",
            "--scopes", "tickets:read", "--expires-in-days", "1",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    token = json.loads(out.stdout)["token"]
    me = requests.get(
        f"{local_stack['url']}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert me.status_code == 200 and me.json()["organizationId"] == "globex"
