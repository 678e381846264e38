"""Test material for the attachment scanner: a signature database built with ClamAV's own
`sigtool`, the EICAR test file, and small real files of each accepted type."""

from __future__ import annotations

import atexit
import functools
import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from devstack.clamav import EICAR, SIGNATURE_NAME

__all__ = [
    "EICAR",
    "SIGNATURE_NAME",
    "build_signature_db",
    "clamd_work_dir",
    "docx_bytes",
    "pdf_bytes",
    "sigtool_md5_line",
]

PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
# The start of a Windows PE executable (what an "image.png" that is really a program holds).
EXE_BYTES = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + (b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 64)
)


def build_signature_db(directory: Path) -> Path:
    """A definitions directory holding `sigtool --md5` of the EICAR file (real ClamAV tooling)."""
    directory.mkdir(parents=True, exist_ok=True)
    sample = directory / SIGNATURE_NAME
    sample.write_bytes(EICAR)
    line = subprocess.run(  # noqa: S603
        ["sigtool", "--md5", str(sample)],  # noqa: S607 (ClamAV tool from PATH)
        capture_output=True,
        check=True,
        cwd=directory,
    ).stdout.decode()
    sample.unlink()
    db = directory / "tests.hdb"
    # sigtool names the signature after the file it hashed.
    db.write_text(line.replace(str(sample), SIGNATURE_NAME))
    return directory


def sigtool_md5_line(content: bytes, name: str, work: Path) -> str:
    """The `.hdb` line `sigtool --md5` prints for `content`, named `name`."""
    work.mkdir(parents=True, exist_ok=True)
    sample = work / name
    sample.write_bytes(content)
    line = subprocess.run(  # noqa: S603
        ["sigtool", "--md5", str(sample)],  # noqa: S607 (ClamAV tool from PATH)
        capture_output=True,
        check=True,
        cwd=work,
    ).stdout.decode()
    sample.unlink()
    return line.replace(str(sample), name)


def pdf_bytes(text: str = "Hello from Deskguard") -> bytes:
    """A small, valid one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def docx_bytes() -> bytes:
    """A minimal OOXML word-processing package (a ZIP with the parts a .docx has)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


@functools.cache
def clamd_work_dir() -> str:
    """A private work directory for the test run's resident clamd (short: it holds the unix
    socket); the daemon is stopped and the directory removed at exit."""
    from chalicelib.attachments.scanning.definitions import stop_resident_engine

    work = tempfile.mkdtemp(prefix="clamd-", dir="/tmp")

    def cleanup() -> None:
        stop_resident_engine()
        shutil.rmtree(work, ignore_errors=True)

    atexit.register(cleanup)
    return work
