"""Every relative link in README.md and docs/*.md names a file inside the repository.

Documentation links to nothing outside the tree (no `../`), and a renamed or moved file cannot
leave a dead link behind.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "SECURITY.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?(?P<target>[^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def relative_links(text: str) -> list[str]:
    """Targets of the Markdown links outside code, without any `#fragment`; no URLs."""
    prose = _CODE_SPAN.sub("", _FENCE.sub("", text))
    targets = []
    for match in _LINK.finditer(prose):
        target = match["target"]
        if _SCHEME.match(target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_resolve_inside_the_repository(document: Path) -> None:
    for target in relative_links(document.read_text(encoding="utf-8")):
        assert not target.startswith("../"), f"{target} leaves the repository"
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{target} leaves the repository"
        assert resolved.exists(), f"{target} does not exist"


def test_link_extraction_skips_code_and_urls() -> None:
    text = "\n".join(
        [
            "[a](docs/api.md#errors) and [b](https://example.org/x) and [c](#local)",
            "`[d](not/a/link.md)`",
            "```",
            "[e](inside/a/fence.md)",
            "```",
            "![f](../outside.png)",
        ]
    )
    assert relative_links(text) == ["docs/api.md", "../outside.png"]
