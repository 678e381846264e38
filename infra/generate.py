"""`python -m infra.generate [--check]`: write (or check) every generated file in the repository.

Each file below is built from the code that owns its facts, so none can drift from it:
- `docs/openapi.json`: the routes, their schemas and the RBAC table (`chalicelib.api.openapi`);
- `infra/observability/*.json`: Logs Insights queries, metric filters, alarms and the dashboard
  over the security-event categories (`infra.security_ops`);
- `docs/rate-limits.md`: the limits table (`chalicelib.ratelimit.limiter`);
- `.chalice/policy-*.json`: each function's IAM policy (`infra.policies`).
`make generate` writes them; `--check` (run by the test suite) exits 1 and names every stale file.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra import policies, security_ops

ROOT = Path(__file__).resolve().parent.parent


def _json(build: Callable[[], dict[str, Any]]) -> Callable[[], str]:
    return lambda: json.dumps(build(), indent=2, sort_keys=True) + "\n"


def _openapi() -> str:
    from app import app
    from chalicelib.api.openapi import render

    return render(app)


def _policy(name: str) -> Callable[[], str]:
    return lambda: policies.render(policies.build_policies()[name])


def generated_files() -> dict[str, Callable[[], str]]:
    """Every generated file (path relative to the repository root) and its builder."""
    files: dict[str, Callable[[], str]] = {
        "docs/openapi.json": _openapi,
        "infra/observability/queries.json": _json(security_ops.query_definitions),
        "infra/observability/metric-filters.json": _json(security_ops.metric_filters),
        "infra/observability/alarms.json": _json(security_ops.alarms),
        "infra/observability/dashboard.json": _json(security_ops.dashboard),
        "docs/rate-limits.md": security_ops.rate_limits_markdown,
    }
    for name in sorted(policies.build_policies()):
        relative = (policies.POLICY_DIR / name).relative_to(ROOT)
        files[str(relative)] = _policy(name)
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """Generated files whose committed content differs from what the code generates."""
    stale = []
    for relative, build in generated_files().items():
        path = root / relative
        if not path.exists() or path.read_text(encoding="utf-8") != build():
            stale.append(relative)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files, exit 1")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for relative in stale:
            print(f"stale: {relative} (run `make generate`)")
        return 1 if stale else 0
    for relative, build in generated_files().items():
        path = ROOT / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(build(), encoding="utf-8")
        print(f"wrote {relative}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
