"""`.env.example` documents every environment variable the code reads."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["chalicelib/core/settings.py", "chalicelib/core/keyring.py", "devstack/__main__.py"]
READ = re.compile(
    r"""(?:env\.get|environ\.get|os\.environ\[|_(?:int|bool|csv)\(\s*env,)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)


def _documented() -> dict[str, str]:
    """Variable -> the comment lines right above it."""
    documented: dict[str, str] = {}
    comment: list[str] = []
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comment.append(line)
        elif "=" in line:
            documented[line.split("=", 1)[0]] = "\n".join(comment)
        else:
            comment = []
    return documented


def test_every_variable_read_is_documented_with_a_comment() -> None:
    read = set()
    for source in SOURCES:
        read |= set(READ.findall((ROOT / source).read_text()))
    assert {"DESKGUARD_STAGE", "JWT_SIGNING_KEY_SECRET_ID", "MOTO_PORT"} <= read
    documented = _documented()
    missing = sorted(read - set(documented))
    assert not missing, f"add to .env.example (with a comment): {missing}"
    for name in read:
        assert documented[name].strip(), f"{name} needs a comment in .env.example"
