"""Cold start: median time to `import app` in a fresh interpreter vs `import chalice, boto3`.

Prints a markdown table. Each sample is a new `python -c` process timed from the inside (import
only, interpreter start-up excluded); samples of the two kinds alternate so machine noise hits
both alike. Goal: ratio <= 1.25.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMER = "import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
CASES = {
    "floor: import chalice, boto3": "import chalice, boto3",
    "app: import app": "import app",
}


def sample(stmt: str) -> float:
    env = dict(os.environ, DESKGUARD_STAGE="bench", POWERTOOLS_TRACE_DISABLED="true")
    env["JWT_KEYRING"] = env.get("JWT_KEYRING", "")
    out = subprocess.run(
        [sys.executable, "-c", TIMER.format(stmt=stmt)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    for stmt in CASES.values():  # warm the file cache and .pyc files
        sample(stmt)
    results: dict[str, list[float]] = {name: [] for name in CASES}
    for _ in range(args.runs):
        for name, stmt in CASES.items():
            results[name].append(sample(stmt))
    floor = statistics.median(results["floor: import chalice, boto3"])
    print(f"Cold start, {args.runs} runs each, fresh interpreter per run\n")
    print("| case | median ms | p90 ms | ratio to floor |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        med = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"| {name} | {med * 1000:.1f} | {p90 * 1000:.1f} | {med / floor:.2f}x |")


if __name__ == "__main__":
    main()
