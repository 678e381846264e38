"""Every generated file in the repository is current: one check, over `infra.generate`'s list
(OpenAPI, observability JSON, the rate-limit doc, IAM policies). `make generate` fixes a failure."""

from __future__ import annotations

import shutil
from pathlib import Path

from infra import generate


def test_every_generated_file_is_current() -> None:
    stale = generate.stale_files()
    assert stale == [], f"stale generated files: {stale}; run `make generate` and commit them"


def test_the_list_covers_every_generated_file_in_the_tree() -> None:
    listed = set(generate.generated_files())
    assert {"docs/openapi.json", "docs/rate-limits.md"} <= listed
    committed = {
        str(path.relative_to(generate.ROOT))
        for pattern in (".chalice/policy-*.json", "infra/observability/*.json")
        for path in generate.ROOT.glob(pattern)
    }
    assert committed, "no policy or observability files found"
    # A file of these kinds that no generator writes would never be checked (or fixed).
    assert committed <= listed
    assert {name for name in listed if name.startswith(".chalice/")} == {
        name for name in committed if name.startswith(".chalice/")
    }


def test_a_changed_or_missing_file_is_reported(tmp_path: Path) -> None:
    files = list(generate.generated_files())
    for relative in files:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(generate.ROOT / relative, tmp_path / relative)
    assert generate.stale_files(tmp_path) == []
    changed, missing = files[0], files[-1]
    (tmp_path / changed).write_text((tmp_path / changed).read_text() + " ")
    (tmp_path / missing).unlink()
    assert generate.stale_files(tmp_path) == [changed, missing]
