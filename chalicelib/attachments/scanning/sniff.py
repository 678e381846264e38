"""The real type of a file from its first bytes (magic numbers), never from its name.

Only the types Deskguard accepts are recognised positively; executables and scripts are
recognised so they can be named in the rejection. Anything else is `application/octet-stream`,
which is never on the allowlist.
"""

from __future__ import annotations

import io
import zipfile
from typing import IO

OCTET_STREAM = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ZIP = "application/zip"
EXECUTABLE = "application/x-executable"
TEXT_TYPES = frozenset({"text/plain", "text/csv"})
SNIFF_BYTES = 8192

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"MZ", EXECUTABLE),  # DOS/PE
    (b"\x7fELF", EXECUTABLE),
    (b"\xfe\xed\xfa\xce", EXECUTABLE),  # Mach-O
    (b"\xfe\xed\xfa\xcf", EXECUTABLE),
    (b"\xce\xfa\xed\xfe", EXECUTABLE),
    (b"\xcf\xfa\xed\xfe", EXECUTABLE),
    (b"\xca\xfe\xba\xbe", EXECUTABLE),  # Mach-O fat binary / Java class
    (b"#!", "text/x-script"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # legacy Office, macros
)
_OOXML_MAIN_PARTS = (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX))
_TEXT_CONTROL_ALLOWED = frozenset(b"\t\n\r\x0c")


def _ooxml_type(source: str | IO[bytes]) -> str:
    """DOCX/XLSX/PPTX are ZIP files with a `[Content_Types].xml` and a main part folder."""
    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return OCTET_STREAM
    if "[Content_Types].xml" not in names:
        return ZIP
    for prefix, mime in _OOXML_MAIN_PARTS:
        if any(name.startswith(prefix) for name in names):
            return mime
    return ZIP


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the sniff window is fine; anything else is not text.
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8")
    return (
        all(ord(c) >= 0x20 or ord(c) in _TEXT_CONTROL_ALLOWED for c in text) and "\x7f" not in text
    )


def sniff_bytes(head: bytes) -> str:
    """The type of content starting with `head` (no ZIP inspection; see `sniff_file`)."""
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return "text/plain" if _looks_like_text(head) else OCTET_STREAM


def sniff_file(path: str) -> str:
    """The real type of the file at `path`."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    mime = sniff_bytes(head)
    if mime == ZIP:
        return _ooxml_type(path)
    return mime


def matches_declared(declared: str, sniffed: str) -> bool:
    """True when the sniffed type is consistent with the declared one.

    Text cannot be told apart by magic (CSV is plain text), so a declared `text/csv` or
    `text/plain` only requires text; every other type must match exactly.
    """
    if declared in TEXT_TYPES:
        return sniffed == "text/plain"
    return declared == sniffed


def sniff_buffer(data: bytes) -> str:
    """`sniff_file` for bytes already in memory."""
    mime = sniff_bytes(data[:SNIFF_BYTES])
    return _ooxml_type(io.BytesIO(data)) if mime == ZIP else mime
