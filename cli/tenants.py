"""`tenants`: create an organization with its first admin; create the DynamoDB tables.

The admin password never travels on the command line (it would land in shell history and `ps`):
it is read from `DESKGUARD_ADMIN_PASSWORD`, prompted for, or generated and printed once.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from typing import TYPE_CHECKING

from cli.common import Output, UsageError, as_json

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `tenants` group."""
    group = groups.add_parser(
        "tenants",
        help="organizations and the tables they live in",
        description="Organizations (tenants) and the DynamoDB tables they live in.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    create = commands.add_parser(
        "create",
        parents=[aws],
        help="create an organization and its first admin",
        description="Create an organization and its first ADMIN user. The password comes from "
        "DESKGUARD_ADMIN_PASSWORD, a prompt, or --generate-password (printed once, in the "
        "JSON result).",
    )
    create.add_argument("--org", required=True, help="organization id: lowercase slug, 3..40")
    create.add_argument("--name", required=True, help="display name of the organization")
    create.add_argument("--admin-email", required=True, help="the first admin's email address")
    create.add_argument("--admin-name", required=True, help="the first admin's display name")
    create.add_argument(
        "--generate-password",
        action="store_true",
        help="generate the admin password and print it once",
    )
    create.set_defaults(run=_create)

    tables = commands.add_parser(
        "create-tables",
        parents=[aws],
        help="create the DynamoDB tables that do not exist yet",
        description="Create every DynamoDB table of the stage (DESKGUARD_STAGE) that does not "
        "exist yet; for the local stack or a sandbox account (deployed stages get theirs from "
        "CloudFormation).",
    )
    tables.set_defaults(run=_create_tables)


def _admin_password(generate: bool) -> tuple[str, bool]:
    if generate:
        return secrets.token_urlsafe(18), True
    from_env = os.environ.get("DESKGUARD_ADMIN_PASSWORD")
    if from_env:
        return from_env, False
    if not sys.stdin.isatty():
        raise UsageError("set DESKGUARD_ADMIN_PASSWORD or pass --generate-password")
    first = getpass.getpass("Admin password (12..72 bytes): ")
    if getpass.getpass("Again: ") != first:
        raise UsageError("the two passwords differ")
    return first, False


def _create(args: argparse.Namespace) -> Output:
    from chalicelib.authz.principal import Role
    from chalicelib.identity import users
    from chalicelib.identity.passwords import validate_new_password
    from chalicelib.identity.schemas import UserOut

    password, generated = _admin_password(args.generate_password)
    validate_new_password(password)  # length rule and the breached list
    users.create_organization(args.org, args.name)
    admin = users.create_user(
        args.org,
        email=args.admin_email,
        name=args.admin_name,
        role=Role.ADMIN,
        password=password,
        actor_id="cli",
    )
    result: dict[str, object] = {"organizationId": args.org, "admin": UserOut.dump(admin)}
    if generated:
        result["adminPassword"] = password
    return as_json(result)


def _create_tables(args: argparse.Namespace) -> Output:
    from chalicelib.tables import create_tables, table_models

    create_tables()
    return as_json({"tables": [model.Meta.table_name for model in table_models()]})
