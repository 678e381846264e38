"""`tokens`: issue an API token for a user; revoke every session and token of a user."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli.common import Output, as_json, require_organization

if TYPE_CHECKING:
    from chalicelib.identity.users import User
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `tokens` group."""
    group = groups.add_parser(
        "tokens",
        help="API tokens and revocation",
        description="API tokens and revocation of a user's credentials.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")

    issue = commands.add_parser(
        "issue",
        parents=[aws],
        help="issue an API token for a user",
        description="Issue an API token owned by an active user. The secret is printed once, "
        "in the JSON result, and stored only as a hash.",
    )
    issue.add_argument("--org", required=True, help="organization id")
    who = issue.add_mutually_exclusive_group(required=True)
    who.add_argument("--user-email", help="the owner, by email address")
    who.add_argument("--user-id", help="the owner, by user id")
    issue.add_argument("--name", required=True, help="a label for the token, e.g. ci")
    issue.add_argument(
        "--scopes", required=True, help="comma-separated scopes, e.g. tickets:read,tickets:write"
    )
    issue.add_argument(
        "--expires-in-days", type=int, required=True, help="lifetime in days (1..365)"
    )
    issue.set_defaults(run=_issue)

    revoke = commands.add_parser(
        "revoke-user",
        parents=[aws],
        help="revoke every session and API token of a user",
        description="Revoke every session and API token of a user at once (a lost laptop, a "
        "departure); the reason is recorded in the audit trail.",
    )
    revoke.add_argument("--org", required=True, help="organization id")
    revoke.add_argument("--user-id", required=True, help="the user whose credentials to revoke")
    revoke.add_argument("--reason", required=True, help="why (recorded in the audit trail)")
    revoke.set_defaults(run=_revoke_user)


def _user_id_for_email(organization_id: str, email: str) -> str:
    from chalicelib.core.errors import NotFound
    from chalicelib.identity.users import find_by_email

    user = find_by_email(organization_id, email)
    if user is None:
        raise NotFound(f"Organization {organization_id} has no user with email {email}.")
    return user.id


def _existing_user(organization_id: str, user_id: str) -> User:
    from chalicelib.core.errors import NotFound
    from chalicelib.identity.users import get_user

    try:
        return get_user(organization_id, user_id)
    except NotFound:
        raise NotFound(f"Organization {organization_id} has no user {user_id}.") from None


def _issue(args: argparse.Namespace) -> Output:
    from chalicelib.authz.principal import Principal
    from chalicelib.core.errors import NotFound
    from chalicelib.identity import api_tokens
    from chalicelib.identity.schemas import IssuedTokenOut

    require_organization(args.org)
    user_id = args.user_id or _user_id_for_email(args.org, args.user_email)
    user = _existing_user(args.org, user_id)
    if not user.active:
        raise NotFound(f"User {user_id} is deactivated.")
    owner = Principal(user_id=user.id, organization_id=user.organization_id, role=user.role)
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    issued = api_tokens.create_token(
        owner, name=args.name, scopes=scopes, expires_in_days=args.expires_in_days
    )
    return as_json(IssuedTokenOut.dump(issued))


def _revoke_user(args: argparse.Namespace) -> Output:
    from chalicelib.identity.revocation import revoke_all_for_user

    require_organization(args.org)
    _existing_user(args.org, args.user_id)
    revoke_all_for_user(args.org, args.user_id, args.reason)
    return as_json({"revoked": True, "userId": args.user_id})
