"""`python -m cli` against the (mocked) AWS account: bootstrap an org, issue a token, revoke; and
the failures an operator can fix, each told in one sentence without a traceback."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    capsys.readouterr()  # drop earlier output (EMF metric lines go to stdout)
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out else None, captured.err


def test_bootstrap_issue_token_and_revoke(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, created, _ = _run(
        capsys,
        "tenants", "create",
        "--org", "initech",
        "--name", "Initech",
        "--admin-email", "Bill@Initech.example",
        "--admin-name", "Bill",
        "--generate-password",
    )  # fmt: skip
    assert code == 0 and created["admin"]["role"] == "ADMIN"
    login = client.post(
        "/api/auth/login",
        json={
            "organization": created["organizationId"],
            "email": "bill@initech.example",
            "password": created["adminPassword"],
        },
    )
    assert login.status == 200

    code, issued, err = _run(
        capsys,
        "tokens", "issue",
        "--org", "initech",
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
        "tokens", "revoke-user",
        "--org", "initech",
        "--user-id", created["admin"]["id"],
        "--reason", "drill",
    )  # fmt: skip
    assert code == 0
    assert client.get("/api/me", token=issued["token"]).status == 401
    assert client.get("/api/me", token=login.json["token"]).status == 401


def test_create_tables_lists_every_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tenants", "create-tables")
    assert code == 0
    assert "deskguard-test-identity" in out["tables"] and "deskguard-test-audit" in out["tables"]


def test_cli_errors_are_one_sentence_not_a_traceback(
    client: Any, make_org: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DESKGUARD_ADMIN_PASSWORD", "short")
    code, out, err = _run(
        capsys, "tenants", "create", "--org", "acme", "--name", "A",
        "--admin-email", "a@acme.example", "--admin-name", "A",
    )  # fmt: skip
    assert (code, out) == (1, None)
    assert err == "error: Password must be 12 to 72 bytes long (password: length out of range).\n"
    monkeypatch.setenv("DESKGUARD_ADMIN_PASSWORD", "1qaz2wsx3edc")  # pragma: allowlist secret
    code, out, err = _run(
        capsys, "tenants", "create", "--org", "acme", "--name", "A",
        "--admin-email", "a@acme.example", "--admin-name", "A",
    )  # fmt: skip
    assert (code, out) == (1, None)
    assert "breached or common passwords" in err

    org = make_org()
    code, out, err = _run(
        capsys, "tokens", "issue", "--org", org.id, "--user-email", "nobody@acme.example",
        "--name", "x", "--scopes", "tickets:read", "--expires-in-days", "1",
    )  # fmt: skip
    assert (code, out) == (1, None)
    assert err == f"error: Organization {org.id} has no user with email nobody@acme.example.\n"

    code, out, err = _run(
        capsys, "tokens", "revoke-user", "--org", "nosuchorg", "--user-id", org.admin.id,
        "--reason", "x",
    )  # fmt: skip
    assert (code, out, err) == (1, None, "error: Organization nosuchorg does not exist.\n")


def test_audit_verify_of_an_unknown_organization_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An organization that does not exist has no chain to be intact.
    capsys.readouterr()
    assert main(["audit", "verify", "--org", "nosuchorg"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "error: Organization nosuchorg does not exist.\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DESKGUARD_"))}
    clean.update({"DESKGUARD_STAGE": "local", **env})
    return subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [sys.executable, "-m", "cli", *argv],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("before_group", [True, False])
def test_unreachable_endpoint_is_one_sentence(before_group: bool) -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    command = ["audit", "verify", "--org", "acme"]
    option = ["--endpoint-url", endpoint]
    done = _cli(*(option + command if before_group else command + option))
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr == (
        f"error: Cannot reach {endpoint}; start the local stack (`make run`) or check "
        "--endpoint-url and the network.\n"
    )


def test_missing_credentials_are_one_sentence(tmp_path: Path) -> None:
    done = _cli(
        "tokens", "revoke-user", "--org", "acme", "--user-id", "u", "--reason", "x",
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: No AWS credentials found;")
    assert done.stderr.count("\n") == 1


def test_missing_table_is_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    boto3.client("dynamodb", region_name="us-east-1").delete_table(
        TableName="deskguard-test-identity"
    )
    code, out, err = _run(capsys, "audit", "verify", "--org", "acme")
    assert (code, out) == (1, None)
    assert err == (
        "error: A DynamoDB table of stage test does not exist; create the tables with "
        "`python -m cli tenants create-tables` or check DESKGUARD_STAGE.\n"
    )


def test_every_command_documents_itself(capsys: pytest.CaptureFixture[str]) -> None:
    commands = {
        "tenants": ["create", "create-tables"],
        "tokens": ["issue", "revoke-user"],
        "audit": ["verify"],
        "security-events": ["query"],
        "stages": ["new"],
        "keys": ["init", "add", "activate", "retire", "show"],
        "tickets": ["reindex"],
        "mail": ["ingest"],
    }
    groups = _subcommands(build_parser())
    assert {name: sorted(_subcommands(parser)) for name, parser in groups.items()} == {
        name: sorted(names) for name, names in commands.items()
    }
    for group, names in commands.items():
        for name in names:
            parser = _subcommands(groups[group])[name]
            assert parser.description, (group, name)
            undocumented = [a.dest for a in parser._actions if not a.help]
            assert undocumented == [], (group, name)
            with pytest.raises(SystemExit) as done:
                main([group, name, "--help"])
            assert done.value.code == 0
            text = capsys.readouterr().out
            assert text.startswith(f"usage: python -m cli {group} {name}")
            assert ("--endpoint-url" in text) is (group != "stages"), (group, name)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)
