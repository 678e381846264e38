"""The admin CLI against the (mocked) AWS account: bootstrap an org, issue a token, revoke."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cli.admin import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    capsys.readouterr()  # drop earlier output (EMF metric lines go to stdout)
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_bootstrap_issue_token_and_revoke(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, created, _ = _run(
        capsys,
        "create-org",
        "--org-id", "initech",
        "--name", "Initech",
        "--admin-email", "Bill@Initech.example",
        "--admin-name", "Bill",
        "--generate-password",
    )  # fmt: skip
    assert code == 0 and created["admin"]["role"] == "ADMIN"
    login = client.post(
        "/api/auth/login",
        json={"email": "bill@initech.example", "password": created["adminPassword"]},
    )
    assert login.status == 200

    code, issued, err = _run(
        capsys,
        "issue-token",
        "--org-id", "initech",
        "--user-email", "bill@initech.example",
        "--name", "ci",
        "--scopes", "tickets:read,admin:users",
        "--expires-in-days", "7",
    )  # fmt: skip
    assert code == 0 and issued["token"].startswith(issued["prefix"])
    assert issued["token"] not in err  # the lifecycle event went to stderr without the secret
    assert "security.token_lifecycle" in err
    assert client.get("/api/admin/users", token=issued["token"]).status == 200

    code, _, _ = _run(
        capsys,
        "revoke-user",
        "--org-id", "initech",
        "--user-id", created["admin"]["id"],
        "--reason", "drill",
    )  # fmt: skip
    assert code == 0
    assert client.get("/api/me", token=issued["token"]).status == 401
    assert client.get("/api/me", token=login.json["token"]).status == 401


def test_cli_errors_are_reported_not_raised(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKGUARD_ADMIN_PASSWORD", "short")
    code, out, _ = _run(
        capsys, "create-org", "--org-id", "acme", "--name", "A",
        "--admin-email", "a@acme.example", "--admin-name", "A",
    )  # fmt: skip
    assert code == 1 and out["error"]["code"] == "VALIDATION_ERROR"
    code, out, _ = _run(
        capsys, "issue-token", "--org-id", "acme", "--user-email", "nobody@acme.example",
        "--name", "x", "--scopes", "tickets:read", "--expires-in-days", "1",
    )  # fmt: skip
    assert code == 1 and out["error"]["code"] == "NOT_FOUND"
