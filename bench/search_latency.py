"""Search latency on moto: p50/p95 of `GET /api/tickets?q=` (in-process API client, moto
DynamoDB) for one word, two words and a prefix, over an organization of N tickets (default
1,000; `--tickets N`). Prints one table. moto's Query cost grows with the partition, so the
figures are an upper bound of the code path, not DynamoDB latency.

    .venv/bin/python bench/search_latency.py --tickets 1000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import dynamo_calls  # sets the mocked AWS environment first

QUERIES = {"one word": "seeded", "two words": "seeded%20printer", "prefix": "prin*"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    with dynamo_calls.mock_aws():
        import app as app_module
        from chalicelib.tables import create_tables
        from devstack.client import ApiClient
        from devstack.resources import create_buckets
        from tests.support.orgs import OrgFactory

        create_tables()
        create_buckets()
        client = ApiClient(app_module.app)
        org = OrgFactory(client)()
        dynamo_calls._seed(org, args.tickets)
        print(f"search over {args.tickets:,} tickets, limit=25, {args.runs} runs each")
        print(f"{'query':<10} | {'p50 ms':>7} | {'p95 ms':>7} | items")
        for label, q in QUERIES.items():
            times: list[float] = []
            items = 0
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.get(f"/api/tickets?q={q}&limit=25", token=org.agent.token)
                times.append((time.perf_counter() - start) * 1000)
                items = len(response.json["items"])
            times.sort()
            p95 = times[int(len(times) * 0.95) - 1]
            print(f"{label:<10} | {statistics.median(times):>7.1f} | {p95:>7.1f} | {items}")


if __name__ == "__main__":
    main()
