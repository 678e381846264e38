"""`mail ingest`: ingest one .eml file as if SES had received it (local stack, tests, replays)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from cli.common import Output, UsageError, as_json, require_organization

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `mail` group."""
    group = groups.add_parser(
        "mail",
        help="inbound mail",
        description="Inbound mail: ingest a stored message.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ingest = commands.add_parser(
        "ingest",
        parents=[aws],
        help="ingest one .eml file into an organization",
        description="Parse, screen and thread one raw message exactly as the inbound-mail "
        "function does: a new ticket, a comment, or a recorded ignore/quarantine. The message "
        "must be addressed to the organization (support@<org>.<MAIL_DOMAIN> or a reply address); "
        "ingesting the same Message-ID twice does nothing the second time.",
    )
    ingest.add_argument("file", type=Path, help="the raw RFC 5322 message (.eml)")
    ingest.add_argument("--org", required=True, help="organization id the message must reach")
    ingest.set_defaults(run=_ingest)


def _ingest(args: argparse.Namespace) -> Output:
    from chalicelib.intake.service import ingest
    from chalicelib.mail.addresses import support_address

    require_organization(args.org)
    path: Path = args.file
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    raw = path.read_bytes()
    outcome = ingest(raw, recipients=[support_address(args.org)], organization_id=args.org)
    return as_json(outcome.as_dict(), 0 if outcome.status not in ("DROPPED", "TOO_LARGE") else 1)
