"""The real type of a file comes from its bytes, never from its name or declared type."""

from __future__ import annotations

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
