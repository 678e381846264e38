"""A small evaluator for the subset of CloudWatch Logs Insights our queries use, so tests can
check what a query string selects from real log records (moto's logs API ignores `filter`).

Supported: `fields a, b`, `filter f = "v" [and g != "w" ...]`, `stats count(*) as n[,
count_distinct(f) as m] by g, h`, `sort f asc|desc`, `limit n`. Anything else raises, so a query
that drifts outside the subset fails its test instead of being half-evaluated.
"""

from __future__ import annotations

import re
from typing import Any

_COMPARISON = re.compile(r'^\s*([@\w.]+)\s*(=|!=)\s*"([^"]*)"\s*$')
_AGGREGATE = re.compile(r"^\s*(count\(\*\)|count_distinct\((\w+)\))\s+as\s+(\w+)\s*$")
_METRIC_FILTER = re.compile(r'^\{ \$\.(\w+) = "([^"]*)" \}$')


def _filter(records: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    clauses = []
    for part in re.split(r"\s+and\s+", expression):
        match = _COMPARISON.match(part)
        if not match:
            raise ValueError(f"unsupported filter: {part!r}")
        clauses.append(match.groups())

    def keep(record: dict[str, Any]) -> bool:
        for field, op, value in clauses:
            equal = str(record.get(field)) == value if field in record else False
            if (op == "=") != equal:
                return False
        return True

    return [r for r in records if keep(r)]


def _stats(records: list[dict[str, Any]], spec: str) -> list[dict[str, Any]]:
    aggregates_text, _, by_text = spec.partition(" by ")
    keys = [k.strip() for k in by_text.split(",") if k.strip()]
    aggregates = []
    for part in aggregates_text.split(","):
        match = _AGGREGATE.match(part)
        if not match:
            raise ValueError(f"unsupported aggregate: {part!r}")
        aggregates.append((match.group(2), match.group(3)))
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(tuple(record.get(k) for k in keys), []).append(record)
    rows = []
    for group_key, members in groups.items():
        row: dict[str, Any] = dict(zip(keys, group_key, strict=True))
        for distinct_field, alias in aggregates:
            if distinct_field is None:
                row[alias] = len(members)
            else:
                row[alias] = len({m.get(distinct_field) for m in members} - {None})
        rows.append(row)
    return rows


def run(query: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluate `query` over `records` (each a parsed JSON log line)."""
    rows = [dict(r, **{"@timestamp": r.get("timestamp")}) for r in records]
    projection: list[str] | None = None
    for command in (c.strip() for c in query.split("|")):
        verb, _, rest = command.partition(" ")
        if verb == "fields":
            projection = [f.strip() for f in rest.split(",")]
        elif verb == "filter":
            rows = _filter(rows, rest)
        elif verb == "stats":
            rows, projection = _stats(rows, rest), None
        elif verb == "sort":
            field, _, order = rest.partition(" ")
            rows.sort(key=lambda r: str(r.get(field.strip(), "")), reverse=order != "asc")
        elif verb == "limit":
            rows = rows[: int(rest)]
        else:
            raise ValueError(f"unsupported command: {verb!r}")
    if projection is not None:
        rows = [{f: r.get(f) for f in projection if f != "@message"} for r in rows]
    return rows


def metric_filter_matches(pattern: str, record: dict[str, Any]) -> bool:
    """Evaluate a `{ $.field = "value" }` metric filter pattern against a record."""
    match = _METRIC_FILTER.match(pattern)
    if not match:
        raise ValueError(f"unsupported pattern: {pattern!r}")
    return record.get(match.group(1)) == match.group(2)
