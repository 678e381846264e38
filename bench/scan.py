"""Scan time: ClamscanEngine.scan_file (one `clamscan` process, as the scanner runs it) on clean
files up to the 10 MiB attachment cap. Prints a markdown table of medians.

Official definitions cannot be downloaded here, so two databases are used: the one-signature EICAR
database the tests use, and a synthetic one of `--synthetic` random MD5 signatures to show how
definition loading (paid by every clamscan run) grows with database size. The production database
(~8 million signatures in main/daily/bytecode) is far larger: see docs/attachments.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.attachments.scanning.engine import ClamscanEngine, Verdict  # noqa: E402
from devstack.clamav import write_test_definitions  # noqa: E402
from tests.support.av import pdf_bytes  # noqa: E402

MIB = 1024 * 1024


def _files(work: Path) -> dict[str, Path]:
    files = {
        "1 KiB PDF": pdf_bytes("small"),
        "10 MiB random bytes": os.urandom(10 * MIB),
        "10 MiB text (CSV-like)": (b"id,name,amount,comment\n" * (10 * MIB // 23 + 1))[: 10 * MIB],
    }
    big_pdf = pdf_bytes("x" * 64)
    files["10 MiB PDF"] = big_pdf + b"%" + b"0" * (10 * MIB - len(big_pdf) - 1)
    paths = {}
    for name, content in files.items():
        path = work / (name.replace(" ", "_") + ".bin")
        path.write_bytes(content)
        paths[name] = path
    return paths


def _synthetic_db(directory: Path, count: int) -> Path:
    write_test_definitions(directory)
    lines = (f"{secrets.token_hex(16)}:{1000 + i}:Bench.Synthetic.{i}\n" for i in range(count))
    (directory / "synthetic.hdb").write_text("".join(lines))
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--synthetic", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        databases = {
            "EICAR only (1 sig)": write_test_definitions(work / "tiny").parent,
            f"synthetic ({args.synthetic:,} sigs)": _synthetic_db(work / "big", args.synthetic),
        }
        files = _files(work)
        print(f"clamscan scan time, median of {args.runs} runs (one process per scan)\n")
        print("| definitions | file | median s | min s | max s | MiB/s |")
        print("|---|---|---:|---:|---:|---:|")
        for db_name, db in databases.items():
            engine = ClamscanEngine("clamscan", str(db), 600)
            for file_name, path in files.items():
                samples = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    result = engine.scan_file(str(path))
                    samples.append(time.perf_counter() - start)
                    assert result.verdict is Verdict.CLEAN
                median = statistics.median(samples)
                mib = path.stat().st_size / MIB
                print(
                    f"| {db_name} | {file_name} | {median:.3f} | {min(samples):.3f} | "
                    f"{max(samples):.3f} | {mib / median:.1f} |"
                )


if __name__ == "__main__":
    main()
