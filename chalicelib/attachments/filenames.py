"""Filename rules for attachments, and the `Content-Disposition` value built from a filename.

The original name is never part of an S3 key (keys are generated); it is kept as metadata and only
ever leaves the service inside a `Content-Disposition` header, encoded per RFC 6266 / RFC 8187.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from chalicelib.core.errors import ValidationFailed

MAX_FILENAME_LENGTH = 255
# Control (Cc), format (Cf: bidi overrides such as U+202E, zero-width characters), line/paragraph
# separators, surrogates and unassigned code points are refused: they hide the real extension.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})
_FORBIDDEN_CHARACTERS = frozenset('/\\:*?"<>|')
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


def _bad_character(name: str) -> str | None:
    for char in name:
        if char in _FORBIDDEN_CHARACTERS:
            return "must not contain path separators or reserved characters"
        if unicodedata.category(char) in _FORBIDDEN_CATEGORIES:
            return "must not contain control or invisible formatting characters"
    return None


def filename_problem(name: str) -> str | None:
    """Why a filename is refused, or None when it is acceptable."""
    checks: tuple[tuple[bool, str], ...] = (
        (not name.strip(), "must not be empty"),
        (len(name) > MAX_FILENAME_LENGTH, f"must be at most {MAX_FILENAME_LENGTH} characters"),
        (name != unicodedata.normalize("NFC", name), "must be in Unicode normal form C"),
    )
    for failed, problem in checks:
        if failed:
            return problem
    character_problem = _bad_character(name)
    if character_problem is not None:
        return character_problem
    later_checks: tuple[tuple[bool, str], ...] = (
        (".." in name, "must not contain '..'"),
        (
            name != name.strip() or name.endswith("."),
            "must not start or end with spaces or end with a dot",
        ),
        (
            name.split(".", maxsplit=1)[0].upper() in _WINDOWS_RESERVED,
            "must not be a reserved device name",
        ),
    )
    return next((problem for failed, problem in later_checks if failed), None)


def validate_filename(name: str) -> str:
    """Return the filename unchanged, or raise ValidationFailed with a field error."""
    problem = filename_problem(name)
    if problem is not None:
        raise ValidationFailed(details=[{"field": "filename", "message": f"Filename {problem}."}])
    return name


def content_disposition(name: str) -> str:
    """`attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    fallback = (
        "".join(
            char if (char.isalnum() or char in " ._-()") else "_" for char in ascii_name
        ).strip()
        or "attachment"
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
