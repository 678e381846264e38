"""What every command module shares: the AWS options, the result type and the usage error."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import TypeAlias

    # What `add_subparsers()` returns: each command module adds its group to it.
    Groups: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


@dataclasses.dataclass(frozen=True)
class Output:
    """What a command prints on stdout, and its exit status."""

    text: str
    status: int = 0


class UsageError(Exception):
    """An argument the parser could not check (it needs the library): exit 2, like argparse."""


def as_json(data: Any, status: int = 0) -> Output:
    """A command's result as one JSON document."""
    return Output(json.dumps(data, indent=2), status)


def aws_options() -> argparse.ArgumentParser:
    """The options of every command that calls AWS (also accepted before the group name)."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--endpoint-url",
        default=argparse.SUPPRESS,
        metavar="URL",
        help="AWS endpoint, e.g. the local stack's moto server http://127.0.0.1:5055 "
        "(default: AWS_ENDPOINT_URL, else the real AWS endpoints)",
    )
    return parser


def require_organization(organization_id: str) -> None:
    """Refuse to act on an organization that does not exist (one sentence, exit 1)."""
    from chalicelib.core.errors import NotFound
    from chalicelib.identity.users import organization_exists

    if not organization_exists(organization_id):
        raise NotFound(f"Organization {organization_id} does not exist.")
