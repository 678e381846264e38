"""The README's layer table is the import-linter `layers` contract, in the same order.

`lint-imports` enforces the contract in `pyproject.toml`; the README shows it to readers. This
test keeps the two from drifting: a layer added, removed, renamed or moved in one and not the
other fails here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_CELL = re.compile(r"^`(?P<path>[^`]+)`$")


def contract_layers() -> list[str]:
    """The `layers` list of the contract with id `layers`, top layer first."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c.get("id") == "layers"]
    assert contract["type"] == "layers"
    assert contract["containers"] == ["chalicelib"]
    return [str(layer) for layer in contract["layers"]]


def readme_layer_rows(text: str) -> list[str]:
    """The first cells of the README table whose header reads `| layer | ... |`, in order."""
    rows: list[str] = []
    in_table = False
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            if in_table:
                break
            continue
        if not in_table:
            in_table = cells[0].lower() == "layer"
            continue
        if set(cells[0]) <= {"-", ":"}:
            continue  # the header's separator row
        match = _CELL.match(cells[0])
        assert match, f"layer cell not a code span: {cells[0]!r}"
        rows.append(match["path"])
    assert rows, "README.md has no table headed `| layer | ... |`"
    return rows


def as_layer(path: str) -> str:
    """`chalicelib/api/` -> `api`, `chalicelib/tables.py` -> `tables`, `app.py` -> `app`."""
    path = path.rstrip("/")
    path = path.removesuffix(".py")
    return path.removeprefix("chalicelib/")


def test_readme_layer_table_equals_the_import_contract() -> None:
    rows = [as_layer(row) for row in readme_layer_rows((ROOT / "README.md").read_text("utf-8"))]
    assert rows[0] == "app", "the table starts with app.py, the wiring above every layer"
    assert rows[1:] == contract_layers()


def test_the_parser_sees_a_reordered_table() -> None:
    table = "\n".join(
        [
            "| layer | what it holds |",
            "|---|---|",
            "| `app.py` | wiring |",
            "| `chalicelib/core/` | bottom |",
            "| `chalicelib/api/` | top |",
            "",
            "| other | table |",
        ]
    )
    assert [as_layer(row) for row in readme_layer_rows(table)] == ["app", "core", "api"]
