"""`python -m devstack.opsgen [--check]`: write (or check) the generated ops files.

Generated from `devstack.ops` and `chalicelib.core.ratelimit`: `infra/observability/*.json`
(merged by the deploy template) and `docs/rate-limits.md`. `--check` exits 1 if any is stale.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack import ops

ROOT = Path(__file__).resolve().parent.parent


def _json(build: Callable[[], dict[str, Any]]) -> Callable[[], str]:
    return lambda: json.dumps(build(), indent=2, sort_keys=True) + "\n"


GENERATED: dict[str, Callable[[], str]] = {
    "infra/observability/queries.json": _json(ops.query_definitions),
    "infra/observability/metric-filters.json": _json(ops.metric_filters),
    "infra/observability/alarms.json": _json(ops.alarms),
    "infra/observability/dashboard.json": _json(ops.dashboard),
    "docs/rate-limits.md": ops.rate_limits_markdown,
}


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files whose committed content differs from what the code generates."""
    stale = []
    for relative, build in GENERATED.items():
        path = root / relative
        if not path.exists() or path.read_text() != build():
            stale.append(relative)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for relative in stale:
            print(f"stale: {relative}")
        return 1 if stale else 0
    for relative, build in GENERATED.items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build())
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
