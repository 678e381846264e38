"""Filename rules and the Content-Disposition built from a filename."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.attachments.filenames import (
    DANGEROUS_EXTENSIONS,
    content_disposition,
    extension,
    extension_problem,
    filename_problem,
    served_filename,
    validate_extension,
    validate_filename,
)
from chalicelib.core.errors import ValidationFailed


@pytest.mark.parametrize(
    "name",
    [
        "../etc/passwd",
        "..\\boot.ini",
        "report/../../x.pdf",
        "a/b.pdf",
        "nul\x00byte.pdf",
        "line\nbreak.txt",
        "x" * 300,
        "x" * 256,
        "invoice\u202efdp.exe",  # right-to-left override hides ".exe"
        "zero\u200bwidth.png",
        "..",
        ".",
        "",
        "   ",
        " leading.txt",
        "trailing.txt ",
        "dot.",
        "CON.txt",
        "a:b.txt",
        "e\u0301.txt",  # not NFC
    ],
)
def test_refused_filenames(name: str) -> None:
    with pytest.raises(ValidationFailed) as raised:
        validate_filename(name)
    assert raised.value.details and raised.value.details[0]["field"] == "filename"


@pytest.mark.parametrize(
    "name",
    ["report.pdf", "Screenshot 2025-01-01 at 10.00.00.png", "résumé.docx", "数据.csv", "x" * 255],
)
def test_accepted_filenames(name: str) -> None:
    assert validate_filename(name) == name


@given(st.text(min_size=1, max_size=300))
def test_accepted_names_never_carry_separators_or_controls(name: str) -> None:
    if filename_problem(name) is None:
        assert "/" not in name and "\\" not in name and ".." not in name
        assert len(name) <= 255
        assert all(unicodedata.category(c)[0] != "C" for c in name)


@given(st.text(min_size=1, max_size=255))
def test_content_disposition_is_a_safe_header(name: str) -> None:
    header = content_disposition(name)
    assert header.isascii()
    assert "\r" not in header and "\n" not in header and "\x00" not in header
    match = re.fullmatch(r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'(\S*)', header)
    assert match is not None, header
    assert unquote(match.group(2), errors="strict") == name


def test_content_disposition_keeps_a_readable_fallback() -> None:
    header = content_disposition('résumé "final".pdf')
    assert header.startswith('attachment; filename="resume _final_.pdf";')


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("invoice.bat", "text/plain"),
        ("invoice.hta", "text/plain"),
        ("invoice.vbs", "text/plain"),
        ("invoice.js", "text/plain"),
        ("invoice.html", "text/plain"),
        ("invoice.htm", "text/plain"),
        ("INVOICE.CMD", "text/plain"),
        ("setup.exe", "application/pdf"),
        ("run.ps1", "text/plain"),
        ("report.pdf.scr", "application/pdf"),
        (
            "invoice.\uff42\uff41\uff54",
            "text/plain",
        ),  # fullwidth: NFKC (and the ASCII fallback) is .bat
        ("photo.png", "application/pdf"),  # an extension of another type
        ("noextension", "application/pdf"),
        ("data.csv", "text/plain"),
    ],
)
def test_extension_must_fit_the_type(name: str, content_type: str) -> None:
    assert extension_problem(name, content_type) is not None
    with pytest.raises(ValidationFailed) as raised:
        validate_extension(name, content_type)
    assert raised.value.details and raised.value.details[0]["field"] == "filename"
    served = served_filename(name, content_type)
    assert extension(served) not in DANGEROUS_EXTENSIONS
    assert extension_problem(served, content_type) is None


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("Quote ü.pdf", "application/pdf"),
        ("photo.JPG", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("export.csv", "text/csv"),
        ("letter.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ],
)
def test_fitting_extensions_are_served_unchanged(name: str, content_type: str) -> None:
    assert extension_problem(name, content_type) is None
    assert served_filename(name, content_type) == name


def test_a_dangerous_name_is_served_with_a_safe_extension() -> None:
    assert served_filename("invoice.bat", "text/plain") == "invoice.bat.txt"
    header = content_disposition(served_filename("invoice.\uff48\uff54\uff41", "text/plain"))
    assert header.startswith('attachment; filename="invoice.hta.txt";')
