"""Password-reset request latency for a known and an unknown address, through the app against
moto: without the answer floor (what the work itself costs; the known address also sends a mail
through SES) and with the production floor (PASSWORD_RESET_FLOOR_MS=800), which must make the two
indistinguishable. Each address is a fresh one per run, so the per-account mail limit never
cuts the work short.

    .venv/bin/python bench/password_reset.py [--runs 15]
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import table_cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)

FLOORS_MS = (0, 800)


def measure(runs: int) -> dict[tuple[int, str], list[float]]:
    from moto import mock_aws

    with mock_aws():
        import app as app_module
        from chalicelib.authz.principal import Role
        from chalicelib.core.settings import override
        from chalicelib.identity import users
        from chalicelib.tables import create_tables
        from devstack.client import ApiClient
        from devstack.resources import create_mail_sender

        create_tables()
        create_mail_sender()
        client = ApiClient(app_module.app)
        users.create_organization("bench-org", "Bench")
        results: dict[tuple[int, str], list[float]] = {}
        for floor in FLOORS_MS:
            with override(password_reset_floor_ms=floor):
                for run in range(runs):
                    known = f"known-{floor}-{run}@bench.example"
                    users.create_user(
                        "bench-org", email=known, name="K", role=Role.AGENT, password=None
                    )
                    for name, email in (
                        ("known address", known),
                        ("unknown address", f"nobody-{floor}-{run}@bench.example"),
                    ):
                        body = {"organization": "bench-org", "email": email}
                        started = time.perf_counter()
                        response = client.post("/api/auth/password-reset", json=body)
                        elapsed = time.perf_counter() - started
                        assert response.status == 202, response.body
                        results.setdefault((floor, name), []).append(elapsed)
        return results


def rows(results: dict[tuple[int, str], list[float]]) -> list[dict[str, str]]:
    out = []
    for (floor, name), values in results.items():
        out.append(
            {
                "area": "password reset",
                "measure": f"POST /api/auth/password-reset, {name}, floor {floor} ms",
                "value": f"median {statistics.median(values) * 1000:.1f} ms",
                "goal": "",
                "met": "",
            }
        )
    for floor in FLOORS_MS:
        known = statistics.median(results[(floor, "known address")])
        unknown = statistics.median(results[(floor, "unknown address")])
        spread = abs(known - unknown) / min(known, unknown)
        goal = "<= 2 %" if floor else "(no floor: the mail shows)"
        out.append(
            {
                "area": "password reset",
                "measure": f"known vs unknown median spread, floor {floor} ms",
                "value": f"{spread * 100:.1f} %",
                "goal": goal,
                "met": ("yes" if spread <= 0.02 else "no") if floor else "",
            }
        )
    return out


def main() -> None:
    table_cli.run(__doc__, measure, rows, default=15)


if __name__ == "__main__":
    main()
