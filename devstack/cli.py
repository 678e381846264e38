"""Ops CLI (never deployed): `python -m devstack.cli <command>`.

    audit verify --org ORG [--json]
        Check ORG's audit chain in the table and against the signed checkpoints in the archive
        (same code as GET /api/admin/audit/verify); exit 1 if broken.
    security-events query --category CATEGORY [--since 1h] [--org ORG] [--limit N]
                          [--log-group NAME]
        Run a CloudWatch Logs Insights query for one event category; prints JSON lines.

AWS credentials, region and table prefix come from the usual environment (`AWS_*`,
`DESKGUARD_STAGE`, `DESKGUARD_TABLE_PREFIX`); the log group defaults to the API function's
(`/aws/lambda/deskguard-<stage>`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any

from infra import security_ops as ops

_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
POLL_SECONDS = 1.0
MAX_POLLS = 120


def parse_since(text: str) -> int:
    """`90s`, `15m`, `1h`, `7d` -> seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError("use a duration such as 15m, 1h or 7d")
    return int(match.group(1)) * _UNITS[match.group(2)]


def run_query(
    logs: Any,
    log_group: str,
    query: str,
    since_seconds: int,
    *,
    now: float | None = None,
    sleep: Any = time.sleep,
) -> list[dict[str, str]]:
    """Start a Logs Insights query and poll until it completes; rows as dicts."""
    end = int(time.time() if now is None else now)
    started = logs.start_query(
        logGroupName=log_group, startTime=end - since_seconds, endTime=end, queryString=query
    )
    for _ in range(MAX_POLLS):
        result = logs.get_query_results(queryId=started["queryId"])
        status = result["status"]
        if status == "Complete":
            return [
                {field["field"]: field["value"] for field in row if field["field"] != "@ptr"}
                for row in result.get("results", [])
            ]
        if status in {"Failed", "Cancelled", "Timeout", "Unknown"}:
            raise RuntimeError(f"query {status.lower()}")
        sleep(POLL_SECONDS)
    raise RuntimeError("query did not complete in time")


def _security_events(args: argparse.Namespace) -> int:
    import boto3

    from chalicelib.core.settings import get_settings

    settings = get_settings()
    query = ops.category_query(args.category, args.org, args.limit)
    log_group = args.log_group or f"/aws/lambda/deskguard-{settings.stage}"
    logs = boto3.client("logs", region_name=settings.region)
    for row in run_query(logs, log_group, query, args.since):
        print(json.dumps(row, sort_keys=True))
    return 0


def _audit_verify(args: argparse.Namespace) -> int:
    from chalicelib.audit.log import verify_chain

    report = verify_chain(args.org).to_json()
    if args.json:
        print(json.dumps(report, sort_keys=True))
    elif report["ok"]:
        print(
            f"OK: {args.org}: {report['checked']} records, chain intact; "
            f"{report['checkpoints']} signed checkpoints up to seq {report['checkpointSeq']}, "
            f"{report['pending']} pending"
        )
    else:
        broken = report["firstBroken"]
        where = f" (checkpoint {broken['checkpoint']})" if broken.get("checkpoint") else ""
        print(
            f"BROKEN: {args.org}: first broken link at seq {broken['seq']}{where}: "
            f"{broken['reason']} ({broken['detail']}); {report['checked']} records verified"
        )
    return 0 if report["ok"] else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devstack.cli", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    audit = commands.add_parser("audit", help="audit trail tools")
    audit_cmds = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_cmds.add_parser("verify", help="verify an organization's hash chain")
    verify.add_argument("--org", required=True)
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=_audit_verify)

    events = commands.add_parser("security-events", help="security event tools")
    event_cmds = events.add_subparsers(dest="events_command", required=True)
    query = event_cmds.add_parser("query", help="Logs Insights query for one category")
    query.add_argument("--category", required=True)
    query.add_argument("--since", type=parse_since, default=3600, help="e.g. 15m, 1h, 7d")
    query.add_argument("--org")
    query.add_argument("--limit", type=int, default=100)
    query.add_argument("--log-group")
    query.set_defaults(func=_security_events)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
