"""Search latency on moto: p50/p95 of `GET /api/tickets?q=` (in-process API client, moto
DynamoDB) for one word, two words and a prefix, over an organization of N tickets (default
1,000; `--tickets N`). Prints one table. moto's Query cost grows with the partition and the
table (it walks every item of the table for an index Query, then sorts the partition), so the
figures are an upper bound of the code path, not DynamoDB latency.

Seeding: the tickets, tag and search-term items are the ones `bench/dynamo_calls.py` builds
(`TicketModel.new`, `TagModel.for_ticket`, `TermModel.for_ticket` over `text_terms`, as the
service stores them), but they are written straight into moto's in-memory DynamoDB table
(`Table.put_item` with the items' serialized attributes), not through BatchWriteItem: moto's
HTTP request and response handling made seeding 5,000 tickets take about 15 minutes. Only the
seeding takes this path; every measured request goes through the API and boto3 as usual.

    .venv/bin/python bench/search_latency.py --tickets 1000
    .venv/bin/python bench/search_latency.py --tickets 50000 --runs 5
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
        started = time.perf_counter()
        dynamo_calls.seed_in_memory(org, args.tickets)
        seconds = time.perf_counter() - started
        print(
            f"search over {args.tickets:,} tickets (seeded in {seconds:.0f} s), limit=25, "
            f"{args.runs} runs each"
        )
        print(f"{'query':<10} | {'p50 ms':>7} | {'p95 ms':>7} | items")
        for label, q in QUERIES.items():
            times: list[float] = []
            items = 0
            for _ in range(args.runs):
                start = time.perf_counter()
                response = client.get(f"/api/tickets?q={q}&limit=25", token=org.agent.token)
                times.append((time.perf_counter() - start) * 1000)
                assert response.status == 200, response.body
                items = len(response.json["items"])
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(f"{label:<10} | {statistics.median(times):>7.1f} | {p95:>7.1f} | {items}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
