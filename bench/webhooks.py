"""Webhook delivery costs, in process on moto with a receiver on 127.0.0.1 (local stage).

- signing: `signature_header` over a 4 KiB body, one secret and two (rotation grace);
- target check: `check_url` + `resolve` of a literal address (no DNS here);
- delivery: events made with a ticket create, then `pump()` until every delivery arrived:
  per event, with 1 and 5 subscribed endpoints (fan-out, claim, sign, POST, record).

Prints a markdown table. moto is not DynamoDB and the receiver is in the same process: compare
rows, not absolute numbers.
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "local",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
)


def _per_call_us(function: object, repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        function()  # type: ignore[operator]
    return (time.perf_counter() - started) / repeat * 1e6


def main() -> None:
    from moto import mock_aws

    rows: list[tuple[str, str]] = []
    from chalicelib.webhooks import signing, transport

    body = b"x" * 4096
    one, two = ["s" * 40], ["s" * 40] * 2
    rows.append(
        (
            "sign 4 KiB, one secret",
            f"{_per_call_us(lambda: signing.signature_header(one, 1, body), 5000):.1f} us",
        )
    )
    rows.append(
        (
            "sign 4 KiB, two secrets",
            f"{_per_call_us(lambda: signing.signature_header(two, 1, body), 5000):.1f} us",
        )
    )
    target = "https://93.184.216.34/hooks"
    rows.append(
        (
            "check_url + resolve (literal)",
            f"{_per_call_us(lambda: transport.resolve(transport.check_url(target)), 5000):.1f} us",
        )
    )

    with mock_aws(), contextlib.redirect_stdout(io.StringIO()):
        from chalicelib.authz.principal import Principal, Role
        from chalicelib.identity import users
        from chalicelib.tables import create_tables
        from chalicelib.tickets import service
        from chalicelib.tickets.schemas import CreateTicket
        from chalicelib.webhooks import delivery, endpoints
        from devstack.webhook_receiver import running

        create_tables()
        for fanout in (1, 5):
            org = f"bench-{fanout}"
            users.create_organization(org, org)
            admin = Principal(user_id="admin", organization_id=org, role=Role.ADMIN)
            requester = Principal(user_id="req", organization_id=org, role=Role.REQUESTER)
            with running() as receiver:
                for _ in range(fanout):
                    endpoints.create_endpoint(admin, url=receiver.url(), events=["ticket.created"])
                events = 20
                timings = []
                for _ in range(events):
                    service.create_ticket(requester, CreateTicket(subject="Bench", body="b"))
                    started = time.perf_counter()
                    delivery.pump()
                    timings.append((time.perf_counter() - started) * 1000)
                assert len(receiver.received) == events * fanout
            rows.append(
                (
                    f"deliver one event to {fanout} endpoint(s)",
                    f"p50 {statistics.median(timings):.1f} ms, "
                    f"max {max(timings):.1f} ms ({events} events)",
                )
            )

    print("| measure | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
