"""Rules for one-line names people read: user names, API token names, ticket subjects.

Refused: C0/C1 control characters (NUL, CR, LF, ESC, ...), DEL, the Unicode line and paragraph
separators, lone surrogates, and the bidirectional controls (U+061C, U+200E/U+200F,
U+202A..U+202E, U+2066..U+2069) that make `"invoice \\u202efdp.exe"` display as
"invoice exe.pdf". Such a name can forge a log line or a header, or lie about what it names.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def check_one_line(value: str) -> str:
    """`value` unchanged, or ValueError (a pydantic field error) naming what is refused."""
    if _FORBIDDEN.search(value):
        raise ValueError(
            "must not contain control characters, line breaks or bidirectional controls"
        )
    if not value.strip():
        raise ValueError("must not be blank")
    return value
