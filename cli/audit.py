"""`audit verify`: walk an organization's audit hash chain (the code behind
GET /api/admin/audit/verify) and report the first broken link."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from cli.common import Output, require_organization

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `audit` group."""
    group = groups.add_parser(
        "audit",
        help="the audit trail",
        description="The tamper-evident audit trail (one hash chain per organization).",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify",
        parents=[aws],
        help="verify an organization's hash chain",
        description="Walk an organization's audit chain from the genesis; exit 0 when intact, "
        "1 when a link is broken (or the organization does not exist).",
    )
    verify.add_argument("--org", required=True, help="organization id")
    verify.add_argument(
        "--json", action="store_true", help="print the report as JSON (as the API returns it)"
    )
    verify.set_defaults(run=_verify)


def _verify(args: argparse.Namespace) -> Output:
    from chalicelib.audit.log import verify_chain
    from chalicelib.audit.schemas import VerifyOut

    require_organization(args.org)
    report = VerifyOut.dump(verify_chain(args.org))
    status = 0 if report["ok"] else 1
    if args.json:
        return Output(json.dumps(report, sort_keys=True), status)
    if report["ok"]:
        return Output(
            f"OK: {args.org}: {report['checked']} records, chain intact; "
            f"{report['checkpoints']} signed checkpoints up to seq {report['checkpointSeq']}, "
            f"{report['pending']} pending"
        )
    broken = report["firstBroken"]
    where = f" (checkpoint {broken['checkpoint']})" if broken.get("checkpoint") else ""
    return Output(
        f"BROKEN: {args.org}: first broken link at seq {broken['seq']}{where}: "
        f"{broken['reason']} ({broken['detail']}); {report['checked']} records verified",
        status,
    )
