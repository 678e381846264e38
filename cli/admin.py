"""Admin commands. Passwords never travel on the command line (they would land in shell history
and `ps`): they are read from `DESKGUARD_ADMIN_PASSWORD` or prompted for, or generated.

    python -m cli [--endpoint-url URL] create-org --org-id acme --name "Acme" \\
        --admin-email admin@acme.example --admin-name "Ada Admin" [--generate-password]
    python -m cli issue-token --org-id acme --user-email admin@acme.example \\
        --name ci --scopes tickets:read,tickets:write --expires-in-days 30
    python -m cli revoke-user --org-id acme --user-id <id> --reason "laptop stolen"
    python -m cli create-tables

Environment: `DESKGUARD_STAGE` / `DESKGUARD_TABLE_PREFIX` pick the tables (as for the Lambda
functions); `AWS_ENDPOINT_URL` (or `--endpoint-url`) points at the local stack's moto server.
Output is one JSON object on stdout; secrets appear there once and nowhere else.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import secrets
import sys
from typing import Any


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cli", description=__doc__.split("\n")[0])
    parser.add_argument("--endpoint-url", help="AWS endpoint (the local stack's moto server)")
    commands = parser.add_subparsers(dest="command", required=True)

    org = commands.add_parser("create-org", help="create an organization and its first admin")
    org.add_argument("--org-id", required=True, help="lowercase slug, 3..40 characters")
    org.add_argument("--name", required=True)
    org.add_argument("--admin-email", required=True)
    org.add_argument("--admin-name", required=True)
    org.add_argument(
        "--generate-password",
        action="store_true",
        help="generate the admin password and print it once",
    )

    token = commands.add_parser("issue-token", help="issue an API token for a user")
    token.add_argument("--org-id", required=True)
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-email")
    who.add_argument("--user-id")
    token.add_argument("--name", required=True)
    token.add_argument("--scopes", required=True, help="comma-separated, e.g. tickets:read")
    token.add_argument("--expires-in-days", type=int, required=True)

    revoke = commands.add_parser("revoke-user", help="revoke every session and token of a user")
    revoke.add_argument("--org-id", required=True)
    revoke.add_argument("--user-id", required=True)
    revoke.add_argument("--reason", required=True)

    commands.add_parser("create-tables", help="create missing DynamoDB tables")
    return parser


def _configure(endpoint_url: str | None) -> None:
    # Before chalicelib is imported: settings are read once, at import.
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def _admin_password(generate: bool) -> tuple[str, bool]:
    if generate:
        return secrets.token_urlsafe(18), True
    from_env = os.environ.get("DESKGUARD_ADMIN_PASSWORD")
    if from_env:
        return from_env, False
    if not sys.stdin.isatty():
        raise SystemExit("set DESKGUARD_ADMIN_PASSWORD or pass --generate-password")
    first = getpass.getpass("Admin password (12..72 bytes): ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("passwords differ")
    return first, False


def _create_org(args: argparse.Namespace) -> dict[str, Any]:
    from chalicelib.authz.principal import Role
    from chalicelib.identity import users
    from chalicelib.identity.passwords import validate_password
    from chalicelib.identity.schemas import UserOut

    password, generated = _admin_password(args.generate_password)
    validate_password(password)
    users.create_organization(args.org_id, args.name)
    admin = users.create_user(
        args.org_id,
        email=args.admin_email,
        name=args.admin_name,
        role=Role.ADMIN,
        password=password,
        actor_id="cli",
    )
    result: dict[str, Any] = {"organizationId": args.org_id, "admin": UserOut.dump(admin)}
    if generated:
        result["adminPassword"] = password
    return result


def _issue_token(args: argparse.Namespace) -> dict[str, Any]:
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.authz.principal import Principal
    from chalicelib.core.errors import NotFound
    from chalicelib.identity import api_tokens, users
    from chalicelib.identity.models import EMAIL_PREFIX, EmailClaimModel
    from chalicelib.identity.schemas import IssuedTokenOut

    user_id = args.user_id
    if args.user_email:
        try:
            claim = EmailClaimModel.get(
                f"{EMAIL_PREFIX}{users.normalize_email(args.user_email)}", "EMAIL"
            )
        except DoesNotExist:
            raise NotFound("No such user.") from None
        if claim.organization_id != args.org_id:
            raise NotFound("No such user.")
        user_id = claim.user_id
    user = users.get_user(args.org_id, user_id)
    if not user.active:
        raise NotFound("No such active user.")
    owner = Principal(user_id=user.id, organization_id=user.organization_id, role=user.role)
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    issued = api_tokens.create_token(
        owner, name=args.name, scopes=scopes, expires_in_days=args.expires_in_days
    )
    return IssuedTokenOut.dump(issued)


def _revoke_user(args: argparse.Namespace) -> dict[str, Any]:
    from chalicelib.identity import users
    from chalicelib.identity.revocation import revoke_all_for_user

    users.get_user(args.org_id, args.user_id)  # 404 for unknown users
    revoke_all_for_user(args.org_id, args.user_id, args.reason)
    return {"revoked": True, "userId": args.user_id}


def _create_tables(args: argparse.Namespace) -> dict[str, Any]:
    from chalicelib.tables import create_tables, table_models

    create_tables()
    return {"tables": [model.Meta.table_name for model in table_models()]}


COMMANDS = {
    "create-org": _create_org,
    "issue-token": _issue_token,
    "revoke-user": _revoke_user,
    "create-tables": _create_tables,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure(args.endpoint_url)
    from chalicelib.core.errors import DeskguardError
    from chalicelib.core.observability import logger

    # Security events and EMF metric lines (which Powertools prints) still get written, on
    # stderr, so stdout stays one JSON document.
    handler: Any = logger.logger_handler
    previous = handler.setStream(sys.stderr)
    out = sys.stdout
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result = COMMANDS[args.command](args)
    except DeskguardError as error:
        print(json.dumps({"error": {"code": error.code, "message": error.message}}), file=out)
        return 1
    finally:
        if previous is not None:
            handler.setStream(previous)
    print(json.dumps(result, indent=2), file=out)
    return 0
