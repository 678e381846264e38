"""`stages new`: add a per-tenant stage to `.chalice/config.json` (`make stage TENANT=...`).

The new stage copies `prod` (production settings) with its own table prefix, secret, issuer and
bucket names (`infra.stages.tenant_stage`). Review and commit the config change, then
`make deploy STAGE=<tenant>`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cli.common import Output, as_json

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `stages` group (it edits a local file: no AWS options)."""
    group = groups.add_parser(
        "stages",
        help="deployment stages in .chalice/config.json",
        description="Deployment stages, as .chalice/config.json declares them.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    new = commands.add_parser(
        "new",
        help="add a per-tenant stage (a copy of prod with its own names)",
        description="Add a per-tenant stage to .chalice/config.json: a copy of prod with its "
        "own table prefix, signing-key secret, issuer and bucket names (random suffix). "
        "Prints the new stage's block.",
    )
    new.add_argument("tenant", help="stage name: lowercase letters and digits, 2..20")
    new.set_defaults(run=_new)


def _new(args: argparse.Namespace) -> Output:
    from infra.stages import add_tenant

    return as_json({args.tenant: add_tenant(args.tenant)})
