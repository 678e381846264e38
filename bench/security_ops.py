"""Cost of the security machinery, in-process on moto: prints a markdown table.

- per-request latency of `GET /api/me` with rate limiting off vs on (two UpdateItems);
- `ratelimit.hit` alone; one `emit()` (log line + EMF blob);
- audit `transact` per record, chaining N records, and `verify_chain` over them.
Medians of `--runs` samples; moto is not DynamoDB, so compare ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--records", type=int, default=500)
    args = parser.parse_args()

    import contextlib
    import io

    from moto import mock_aws

    with mock_aws(), contextlib.redirect_stdout(io.StringIO()) as sink:
        import app as app_module
        from chalicelib.audit import log as audit_log
        from chalicelib.audit import trail as audit
        from chalicelib.authz.principal import Role
        from chalicelib.core import route_classes, settings
        from chalicelib.identity import users
        from chalicelib.ratelimit import limiter as ratelimit
        from chalicelib.security_events import emit
        from chalicelib.tables import create_tables
        from devstack.audit_stream import drain
        from devstack.client import ApiClient
        from devstack.resources import create_buckets

        create_tables()
        create_buckets()
        client = ApiClient(app_module.app)
        users.create_organization("bench", "Bench")
        password = secrets.token_urlsafe(16)
        users.create_user(
            "bench", email="b@bench.example", name="B", role=Role.AGENT, password=password
        )
        token = client.post(
            "/api/auth/login",
            json={"organization": "bench", "email": "b@bench.example", "password": password},
        ).json["token"]

        def me() -> object:
            return client.get("/api/me", token=token)

        rows: list[tuple[str, float]] = []
        me()
        off = median_ms(me, args.runs)
        rows.append(("GET /api/me, rate limiting off", off))
        big = ratelimit.RouteClassLimits(
            "bench",
            ratelimit.Limit(10**9, 60),
            ratelimit.Limit(10**9, 60),
            ratelimit.FailureMode.OPEN,
        )
        ratelimit.LIMITS[route_classes.DEFAULT] = big
        with settings.override(rate_limit_enabled=True):
            on = median_ms(me, args.runs)
        rows.append(("GET /api/me, rate limiting on", on))
        limit = ratelimit.Limit(10**9, 3600)
        rows.append(
            (
                "ratelimit.hit (one conditional UpdateItem)",
                median_ms(lambda: ratelimit.hit("BENCH", limit), args.runs),
            )
        )
        rows.append(
            (
                "emit() (log line + EMF blob)",
                median_ms(lambda: emit("security.token_lifecycle", action="bench"), args.runs),
            )
        )
        drain(app_module.app)  # the chainer catches up (the stream consumer in AWS)
        setup_records = audit_log.verify_chain("bench").checked  # the org's own setup records
        entry = audit.AuditEntry("bench", "u", "bench.write", "thing", "t1", None, {"n": 1})
        rows.append(
            ("audit.transact (per record)", median_ms(lambda: audit.transact(entry), args.records))
        )
        start = time.perf_counter()
        drain(app_module.app)
        rows.append(
            (f"chain {args.records} pending records (total)", (time.perf_counter() - start) * 1000)
        )
        start = time.perf_counter()
        report = audit_log.verify_chain("bench")
        verify_ms = (time.perf_counter() - start) * 1000
        assert report.ok and report.checked == setup_records + args.records
        rows.append((f"verify_chain over {report.checked} records (total)", verify_ms))
        del sink

    print(f"Security machinery on moto, median of {args.runs} runs\n")
    print("| operation | median ms |")
    print("| --- | ---: |")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")
    print(f"\nrate limiting on/off ratio for GET /api/me: {on / off:.2f}")


if __name__ == "__main__":
    main()
