"""`security-events query`: a CloudWatch Logs Insights query for one event category, printed as
JSON lines (the query itself is built by `infra.security_ops`, as the saved queries are)."""

from __future__ import annotations

import argparse
import json
import re
from typing import TYPE_CHECKING

from cli.common import Output, UsageError

if TYPE_CHECKING:
    from cli.common import Groups

_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> int:
    """`90s`, `15m`, `1h`, `7d` -> seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError("use a duration such as 15m, 1h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `security-events` group."""
    group = groups.add_parser(
        "security-events",
        help="query the security events in CloudWatch Logs",
        description="The security events the functions log (docs/security-ops.md).",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    query = commands.add_parser(
        "query",
        parents=[aws],
        help="Logs Insights query for one category",
        description="Run a Logs Insights query for one security-event category over the API "
        "function's log group and print the matching events as JSON lines, newest first.",
    )
    query.add_argument(
        "--category", required=True, help="event category, e.g. security.failed_login"
    )
    query.add_argument(
        "--since",
        type=parse_since,
        default=3600,
        metavar="DURATION",
        help="how far back: 15m, 1h, 7d (default 1h)",
    )
    query.add_argument("--org", help="only events of this organization id")
    query.add_argument("--limit", type=int, default=100, help="at most this many rows (1..10000)")
    query.add_argument(
        "--log-group",
        metavar="NAME",
        help="log group to query (default /aws/lambda/deskguard-<DESKGUARD_STAGE>)",
    )
    query.set_defaults(run=_query)


def _query(args: argparse.Namespace) -> Output:
    import boto3

    from chalicelib.core.settings import get_settings
    from infra import security_ops as ops

    try:
        query = ops.category_query(args.category, args.org, args.limit)
    except ValueError as error:
        raise UsageError(str(error)) from None
    settings = get_settings()
    log_group = args.log_group or f"/aws/lambda/deskguard-{settings.stage}"
    logs = boto3.client("logs", region_name=settings.region)
    rows = ops.run_insights_query(logs, log_group, query, args.since)
    return Output("\n".join(json.dumps(row, sort_keys=True) for row in rows))
