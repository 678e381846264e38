"""The breached/common password list shipped with Deskguard, checked case-insensitively.

`common_passwords.txt.gz` holds the 30,000 most common passwords of zxcvbn's frequency list
(drawn from a corpus of 10 million leaked passwords; licence and source in
`common_passwords.LICENSE.txt`), one per line, lower-cased. Most are shorter than the length
rule allows already; the list refuses the long ones (`1qaz2wsx3edc`, `qwerty123456`, ...) that
the length rule lets through. Loaded once per process on first use (about 240 KB in memory).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

_LIST = Path(__file__).with_name("common_passwords.txt.gz")


@functools.cache
def _common() -> frozenset[str]:
    with gzip.open(_LIST, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def is_common(password: str) -> bool:
    """Whether the password (case-insensitively, surrounding spaces ignored) is on the list."""
    return password.strip().casefold() in _common()
