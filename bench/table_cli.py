"""The command line every table-printing benchmark shares: a sample-count flag, `--json` for
bench/run_all.py, and the markdown table of rows (`measure`, `value`, `goal`, `met`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Rows = list[dict[str, str]]


def print_table(table: Rows, first_header: str = "measure") -> None:
    """The rows as a markdown table."""
    print(f"| {first_header} | value | goal | met |")
    print("|---|---|---|---|")
    for row in table:
        print(f"| {row['measure']} | {row['value']} | {row['goal']} | {row['met']} |")


def run(
    description: str | None,
    measure: Callable[[int], Any],
    rows: Callable[[Any], Rows],
    *,
    count_flag: str = "--runs",
    default: int,
    first_header: str = "measure",
) -> None:
    """Parse the flags, measure with the sample count, print the rows (a table, or JSON)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(count_flag, type=int, default=default, dest="count")
    parser.add_argument("--json", action="store_true", help="rows for bench/run_all.py")
    args = parser.parse_args()
    table = rows(measure(args.count))
    if args.json:
        print(json.dumps(table))
    else:
        print_table(table, first_header)
