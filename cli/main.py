"""The parser and the run loop of `python -m cli`: one place for the global options, the output
streams and the exit statuses.

Exit status: 0 done; 1 the command failed (one sentence on stderr, `error: ...`) or, for
`audit verify`, the chain is broken; 2 bad arguments. stdout carries only the result (JSON for
most commands); log lines and security events the library writes go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any

from cli import audit, keys, mail, security_events, stages, tenants, tickets, tokens
from cli.common import Output, UsageError, aws_options
from cli.failures import describe

GROUPS = (tenants, tokens, audit, security_events, stages, keys, tickets, mail)

EPILOG = """\
examples:
  python -m cli --endpoint-url http://127.0.0.1:5055 tenants create-tables
  python -m cli tenants create --org acme --name Acme --admin-email admin@acme.example \\
      --admin-name "Ada Admin" --generate-password
  python -m cli tokens issue --org acme --user-email admin@acme.example --name ci \\
      --scopes tickets:read --expires-in-days 30
  python -m cli audit verify --org acme
  python -m cli tickets reindex --org acme
  python -m cli mail ingest message.eml --org acme
  python -m cli security-events query --category security.failed_login --since 1h
  python -m cli stages new globex
  python -m cli keys show --stage prod

environment: DESKGUARD_STAGE / DESKGUARD_TABLE_PREFIX pick the tables (as for the Lambda
functions); the usual AWS_* variables give credentials and region; AWS_ENDPOINT_URL is the
default of --endpoint-url.
"""


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree (`python -m cli GROUP COMMAND --help` documents each command)."""
    parser = argparse.ArgumentParser(
        prog="python -m cli",
        description="Deskguard's operator commands: tenants, API tokens, the audit trail, "
        "security events, stages and signing keys.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[aws_options()],
    )
    parser.set_defaults(endpoint_url=None)
    groups = parser.add_subparsers(dest="group", required=True, metavar="GROUP")
    for module in GROUPS:
        module.register(groups, aws_options())
    return parser


def configure_environment(endpoint_url: str | None) -> None:
    """Point every AWS client at `endpoint_url`; must run before `chalicelib` is imported (its
    settings are read once, at import)."""
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        # The local stack's moto server accepts any credentials.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")


def _run(args: argparse.Namespace) -> Output:
    from chalicelib.core.observability import logger

    # Security events and EMF metric lines (which Powertools prints) still get written, on
    # stderr, so stdout stays the command's result alone.
    handler: Any = logger.logger_handler
    previous = handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            result: Output = args.run(args)
    finally:
        if previous is not None:
            handler.setStream(previous)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = build_parser().parse_args(argv)
    configure_environment(args.endpoint_url)
    try:
        result = _run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        sentence = describe(error)
        if sentence is None:
            raise
        print(f"error: {sentence}", file=sys.stderr)
        return 1
    if result.text:
        print(result.text)
    return result.status
