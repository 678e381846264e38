"""`tickets reindex`: rebuild an organization's search index from its tickets and comments."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli.common import Output, as_json, require_organization

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `tickets` group."""
    group = groups.add_parser(
        "tickets",
        help="tickets and their search index",
        description="Maintenance of an organization's tickets.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    reindex = commands.add_parser(
        "reindex",
        parents=[aws],
        help="rebuild an organization's search index",
        description="Recompute every ticket's search terms from its subject, body and comments: "
        "missing terms are written, stale ones (an old subject, a crash between a write and its "
        "indexing) deleted. Safe to run at any time and more than once.",
    )
    reindex.add_argument("--org", required=True, help="organization id")
    reindex.set_defaults(run=_reindex)


def _reindex(args: argparse.Namespace) -> Output:
    from chalicelib.tickets.search import reindex_organization

    require_organization(args.org)
    return as_json({"organizationId": args.org, **reindex_organization(args.org)})
