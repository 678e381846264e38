"""Cold start: median time to `import app` in a fresh interpreter vs `import chalice, boto3`.

Prints a markdown table (`--json`: rows for bench/run_all.py). Each sample is a new `python -c`
process timed from the inside (import only, interpreter start-up excluded); samples of the kinds
alternate so machine noise hits all alike. Goal: ratio <= 1.25.

The component rows are marginal costs: the import timed after `import chalice, boto3`, in a fresh
process, so they say what each dependency adds on top of the floor (the authorizer row is what
the authorizer Lambda would need if it did not import the whole app).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
MARGINAL = (
    "import chalice, boto3, time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
)
FLOOR = "floor: import chalice, boto3"
APP = "app: import app"
CASES = {FLOOR: (TIMER, "import chalice, boto3"), APP: (TIMER, "import app")}
COMPONENTS = {
    "+ pydantic (BaseModel)": "from pydantic import BaseModel, Field",
    "+ PyJWT, PyNaCl (Ed25519)": "import jwt, nacl.signing",
    "+ pynamodb": "import pynamodb.models, pynamodb.transactions",
    "+ Powertools Logger": "import aws_lambda_powertools.logging",
    "+ authorizer's own imports": "import chalicelib.api.authorizer",
}


def sample(template: str, stmt: str) -> float:
    env = dict(os.environ, DESKGUARD_STAGE="bench", POWERTOOLS_TRACE_DISABLED="true")
    env["JWT_KEYRING"] = env.get("JWT_KEYRING", "")
    out = subprocess.run(
        [sys.executable, "-c", template.format(stmt=stmt)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure(runs: int) -> dict[str, list[float]]:
    cases = {**CASES, **{name: (MARGINAL, stmt) for name, stmt in COMPONENTS.items()}}
    for template, stmt in cases.values():  # warm the file cache and .pyc files
        sample(template, stmt)
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, (template, stmt) in cases.items():
            results[name].append(sample(template, stmt))
    return results


def rows(results: dict[str, list[float]]) -> list[dict[str, str]]:
    floor = statistics.median(results[FLOOR])
    app = statistics.median(results[APP])
    out = [
        {
            "area": "cold start",
            "measure": (
                f"import app / import chalice, boto3 ({app * 1000:.0f} / {floor * 1000:.0f} ms)"
            ),
            "value": f"{app / floor:.2f}x",
            "goal": "<= 1.25x",
            "met": "yes" if app / floor <= 1.25 else "no",
        }
    ]
    authorizer = floor + statistics.median(results["+ authorizer's own imports"])
    out.append(
        {
            "area": "cold start",
            "measure": "authorizer Lambda if it imported only its own modules (floor + row below)",
            "value": f"{authorizer / floor:.2f}x",
            "goal": "<= 1.25x",
            "met": "yes" if authorizer / floor <= 1.25 else "no",
        }
    )
    for name in COMPONENTS:
        out.append(
            {
                "area": "cold start",
                "measure": f"marginal import {name}",
                "value": f"{statistics.median(results[name]) * 1000:.1f} ms",
                "goal": "",
                "met": "",
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="rows for bench/run_all.py")
    args = parser.parse_args()
    results = measure(args.runs)
    if args.json:
        print(json.dumps(rows(results)))
        return
    floor = statistics.median(results[FLOOR])
    print(f"Cold start, {args.runs} runs each, fresh interpreter per run\n")
    print("| case | median ms | p90 ms | ratio to floor |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        med = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        ratio = f"{med / floor:.2f}x" if name in CASES else "(marginal)"
        print(f"| {name} | {med * 1000:.1f} | {p90 * 1000:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
