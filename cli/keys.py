"""`keys`: the JWT signing keys of a deployed stage, in its Secrets Manager secret.

Rotation without logging anyone out: `add` (verify-only), `make deploy` (containers reload the
keyring), `activate`, and `retire` the old key once every token it signed has expired
(docs/deploy.md). Key material stays inside Secrets Manager and `infra.signing_keys`; nothing
here prints it.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from cli.common import Output

if TYPE_CHECKING:
    from cli.common import Groups


def register(groups: Groups, aws: argparse.ArgumentParser) -> None:
    """Add the `keys` group."""
    group = groups.add_parser(
        "keys",
        help="a deployed stage's signing keys",
        description="The JWT signing keys (and keyed-hash key) of a deployed stage, stored in "
        "its JWT_SIGNING_KEY_SECRET_ID secret.",
    )
    commands = group.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stage = argparse.ArgumentParser(add_help=False)
    stage.add_argument("--stage", required=True, help="deployed stage, e.g. prod")
    kid = argparse.ArgumentParser(add_help=False)
    kid.add_argument("kid", metavar="KID", help="key id (see `keys show`)")

    for name, help_text, run, parents in (
        (
            "init",
            "store a fresh keyring unless a valid one is there (first deploy; idempotent)",
            _init,
            [stage, aws],
        ),
        ("add", "add a new key that verifies but does not sign yet", _add, [stage, aws]),
        ("activate", "sign new tokens with KID", _activate, [kid, stage, aws]),
        ("retire", "drop KID (never the active key)", _retire, [kid, stage, aws]),
        ("show", "the active kid and every kid (never key material)", _show, [stage, aws]),
    ):
        command = commands.add_parser(
            name,
            parents=parents,
            help=help_text,
            description=f"{help_text[0].upper()}{help_text[1:]}.",
        )
        command.set_defaults(run=run)


def _init(args: argparse.Namespace) -> Output:
    from infra import signing_keys

    return Output(f"active kid: {signing_keys.init(args.stage)}")


def _add(args: argparse.Namespace) -> Output:
    from infra import signing_keys

    return Output(f"added kid (verify-only): {signing_keys.add(args.stage)}")


def _activate(args: argparse.Namespace) -> Output:
    from infra import signing_keys

    signing_keys.activate(args.stage, args.kid)
    return Output(f"active kid: {args.kid}")


def _retire(args: argparse.Namespace) -> Output:
    from infra import signing_keys

    signing_keys.retire(args.stage, args.kid)
    return Output(f"retired kid: {args.kid}")


def _show(args: argparse.Namespace) -> Output:
    from infra import signing_keys

    return Output(json.dumps(signing_keys.show(args.stage)))
