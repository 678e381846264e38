"""Login latency at the production bcrypt cost (12): the full request through the gateway
emulation, against moto, for a right password, a wrong password and an unknown e-mail (the last
two must cost the same as the first: timing must not tell which one failed).
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
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "12",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
    }
)


def measure(runs: int) -> dict[str, list[float]]:
    from moto import mock_aws

    with mock_aws():
        import app as app_module
        from chalicelib.authz.principal import Role
        from chalicelib.identity import users
        from chalicelib.tables import create_tables
        from devstack.client import ApiClient

        create_tables()
        client = ApiClient(app_module.app)
        org = "bench-org"
        users.create_organization(org, "Bench")
        email, password = "agent@bench.example", "correct-horse-battery"
        users.create_user("bench-org", email=email, name="A", role=Role.AGENT, password=password)
        wrong = "wrong-password"  # pragma: allowlist secret
        attempts = {
            "right password": ({"organization": org, "email": email, "password": password}, 200),
            "wrong password": ({"organization": org, "email": email, "password": wrong}, 401),
            "unknown e-mail": (
                {"organization": org, "email": "no@bench.example", "password": password},
                401,
            ),
            "unknown organization": (
                {"organization": "no-such-org", "email": email, "password": password},
                401,
            ),
        }
        results: dict[str, list[float]] = {name: [] for name in attempts}
        for _ in range(runs):
            for name, (body, status) in attempts.items():
                started = time.perf_counter()
                response = client.post("/api/auth/login", json=body)
                results[name].append(time.perf_counter() - started)
                assert response.status == status, (name, response.status)
        return results


def rows(results: dict[str, list[float]]) -> list[dict[str, str]]:
    out = []
    for name, values in results.items():
        out.append(
            {
                "area": "login (bcrypt 12)",
                "measure": f"POST /api/auth/login, {name}",
                "value": f"median {statistics.median(values) * 1000:.0f} ms",
                "goal": "",
                "met": "",
            }
        )
    medians = [statistics.median(v) for v in results.values()]
    spread = (max(medians) - min(medians)) / min(medians)
    out.append(
        {
            "area": "login (bcrypt 12)",
            "measure": "spread of the three medians (timing must not tell them apart)",
            "value": f"{spread * 100:.1f} %",
            "goal": "<= 10 %",
            "met": "yes" if spread <= 0.10 else "no",
        }
    )
    return out


def main() -> None:
    table_cli.run(__doc__, measure, rows, default=7)


if __name__ == "__main__":
    main()
