"""Filename rules for attachments, and the `Content-Disposition` value built from a filename.

The original name is never part of an S3 key (keys are generated); it is kept as metadata and only
ever leaves the service inside a `Content-Disposition` header, encoded per RFC 6266 / RFC 8187.

The extension decides what a desktop does with a downloaded file (Windows runs `invoice.bat`,
`.hta`, `.vbs`, `.js` by extension whatever its bytes are; a browser renders `.html`). So the
extension must be one the declared type owns (`EXTENSIONS`): anything else is refused when the
upload is requested, REJECTED if a stored record does not comply, and the name served is
rewritten to end in the type's own extension if it still would not fit. The check is made on the
NFKC form (a fullwidth `.exe` is `.exe`) and case-insensitively.
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


# The only extensions a downloaded attachment may carry, by content type (first = canonical).
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/gif": (".gif",),
    "application/pdf": (".pdf",),
    "text/plain": (".txt", ".text", ".log"),
    "text/csv": (".csv",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    # Only inbound mail stores one (its `original.eml`); uploads cannot declare it.
    "message/rfc822": (".eml",),
}
# Never served as-is, whatever the type (also refused because no type owns them; named here so
# the refusal says why, and so `served_filename` can never let one through).
DANGEROUS_EXTENSIONS = frozenset(
    {
        ".bat",
        ".cmd",
        ".com",
        ".cpl",
        ".exe",
        ".scr",
        ".pif",
        ".msi",
        ".msp",
        ".msc",
        ".dll",
        ".sys",
        ".hta",
        ".htm",
        ".html",
        ".xhtml",
        ".shtml",
        ".svg",
        ".mht",
        ".mhtml",
        ".js",
        ".jse",
        ".mjs",
        ".vbs",
        ".vbe",
        ".wsf",
        ".wsh",
        ".wsc",
        ".ps1",
        ".ps1xml",
        ".psm1",
        ".psd1",
        ".sh",
        ".bash",
        ".jar",
        ".lnk",
        ".url",
        ".reg",
        ".inf",
        ".scf",
        ".chm",
        ".hlp",
        ".application",
        ".appref-ms",
        ".gadget",
        ".iso",
        ".img",
        ".vhd",
        ".docm",
        ".xlsm",
        ".pptm",
        ".dotm",
        ".xltm",
        ".xlam",
        ".ppam",
        ".sldm",
        ".py",
        ".pyw",
        ".pl",
        ".rb",
        ".php",
    }
)


def extension(name: str) -> str:
    """The extension a desktop sees: the last `.xxx` of the NFKC name, lowercased ('' if none)."""
    folded = unicodedata.normalize("NFKC", name).lower().rstrip(" .")
    base = folded.rsplit("/", 1)[-1]
    return base[base.rfind(".") :] if "." in base.lstrip(".") else ""


def extension_problem(name: str, content_type: str) -> str | None:
    """Why a filename's extension does not fit `content_type`, or None when it does."""
    ext = extension(name)
    if ext in DANGEROUS_EXTENSIONS:
        return f"must not end in {ext} (a file type desktops run or render)"
    allowed = EXTENSIONS.get(content_type, ())
    if ext not in allowed:
        wanted = ", ".join(allowed) or "none"
        return f"must end in an extension of its content type ({wanted})"
    return None


def validate_extension(name: str, content_type: str) -> None:
    """Raise ValidationFailed (field `filename`) when the extension does not fit the type."""
    problem = extension_problem(name, content_type)
    if problem is not None:
        raise ValidationFailed(details=[{"field": "filename", "message": f"Filename {problem}."}])


def served_filename(name: str, content_type: str) -> str:
    """The name a download carries: `name` when its extension fits `content_type`, else `name`
    with the type's own extension appended (`invoice.bat` as text -> `invoice.bat.txt`)."""
    if extension_problem(name, content_type) is None:
        return name
    allowed = EXTENSIONS.get(content_type)
    return f"{name}{allowed[0] if allowed else '.bin'}"


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
