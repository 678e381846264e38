"""The real type of a file from its bytes (magic numbers, and the whole file for text), never
from its name.

Only the types Deskguard accepts are recognised positively; executables and scripts are
recognised so they can be named in the rejection. Anything else is `application/octet-stream`,
which is never on the allowlist. Text is only text when every byte of the file is: a file that
starts with 8 KiB of text and carries an ELF or PE binary after it is not `text/plain`.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
from collections.abc import Iterable
from typing import IO

OCTET_STREAM = "application/octet-stream"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ZIP = "application/zip"
EXECUTABLE = "application/x-executable"
# Types told apart from plain text by nothing but their name (a stored mail is text too).
TEXT_TYPES = frozenset({"text/plain", "text/csv", "message/rfc822"})
SNIFF_BYTES = 8192
_CHUNK_BYTES = 1024 * 1024

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
# Control characters other than tab, newline, form feed and carriage return (and DEL).
_TEXT_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")


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


def _text_chunk_ok(text: str) -> bool:
    return _TEXT_FORBIDDEN.search(text) is None


def is_text(chunks: Iterable[bytes]) -> bool:
    """True when the whole content is UTF-8 without control characters (BOM allowed)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    seen = False
    try:
        for chunk in chunks:
            seen = seen or bool(chunk)
            if not _text_chunk_ok(decoder.decode(chunk)):
                return False
        return seen and _text_chunk_ok(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return False


def _magic_type(head: bytes) -> str | None:
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head.startswith(b"PK\x03\x04"):
        return ZIP
    return None


def sniff_bytes(head: bytes) -> str:
    """The type of content that is exactly `head` (no ZIP inspection; see `sniff_file`)."""
    return _magic_type(head) or ("text/plain" if is_text([head]) else OCTET_STREAM)


def sniff_file(path: str) -> str:
    """The real type of the file at `path` (text is checked to the last byte)."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
        mime = _magic_type(head)
        if mime is None:
            handle.seek(0)
            text = is_text(iter(lambda: handle.read(_CHUNK_BYTES), b""))
            return "text/plain" if text else OCTET_STREAM
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
    mime = sniff_bytes(data)
    return _ooxml_type(io.BytesIO(data)) if mime == ZIP else mime
