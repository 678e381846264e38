"""The real type of a file comes from its bytes, never from its name or declared type."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.attachments.scanning.sniff import (
    DOCX,
    EXECUTABLE,
    OCTET_STREAM,
    ZIP,
    matches_declared,
    sniff_buffer,
    sniff_file,
)
from tests.support.av import EXE_BYTES, PNG_1PX, docx_bytes, pdf_bytes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PNG_1PX, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (pdf_bytes(), "application/pdf"),
        (docx_bytes(), DOCX),
        (b"PK\x03\x04" + b"\x00" * 40, OCTET_STREAM),  # a broken ZIP
        (EXE_BYTES, EXECUTABLE),
        (b"\x7fELF\x02\x01\x01", EXECUTABLE),
        (b"#!/bin/sh\nrm -rf /\n", "text/x-script"),
        (b"name,email\nAda,ada@example.com\n", "text/plain"),
        ("héllo wörld\n".encode(), "text/plain"),
        (b"text with a NUL\x00 byte", OCTET_STREAM),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),
    ],
)
def test_sniffing(content: bytes, expected: str) -> None:
    assert sniff_buffer(content) == expected


def test_plain_zip_is_not_an_office_document() -> None:
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("payload.exe", EXE_BYTES)
    assert sniff_buffer(out.getvalue()) == ZIP
    assert not matches_declared(DOCX, ZIP)


def test_declared_type_must_match() -> None:
    assert matches_declared("image/png", "image/png")
    assert not matches_declared("image/png", EXECUTABLE)
    assert matches_declared("text/csv", "text/plain")
    assert not matches_declared("text/plain", "text/x-script")
    assert not matches_declared("application/pdf", "text/plain")


@given(st.binary(max_size=64))
def test_executables_are_never_an_allowed_type(tail: bytes) -> None:
    for head in (b"MZ", b"\x7fELF", b"#!"):
        assert sniff_buffer(head + tail) in {EXECUTABLE, "text/x-script"}


ELF_HEADER = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56


@pytest.mark.parametrize(
    "tail",
    [ELF_HEADER, EXE_BYTES, b"\x00", b"ok to here \x1b[31m"],
)
def test_text_is_checked_to_the_last_byte(tmp_path: Any, tail: bytes) -> None:
    """8 KiB (and far more) of text followed by a binary is not text/plain."""
    for text_bytes in (8192, 8192 * 3 + 1, 2 * 1024 * 1024 + 5):
        path = tmp_path / "object"
        path.write_bytes(b"a" * (text_bytes - 1) + b"\n" + tail)
        assert sniff_file(str(path)) == OCTET_STREAM, (text_bytes, tail[:8])
        assert sniff_buffer(path.read_bytes()) == OCTET_STREAM


def test_long_text_and_multibyte_across_chunks_stay_text(tmp_path: Any) -> None:
    path = tmp_path / "object"
    # A 3-byte character split by every read boundary, and a BOM.
    path.write_bytes(b"\xef\xbb\xbf" + "€ and more\n".encode() * 300_000)
    assert sniff_file(str(path)) == "text/plain"
