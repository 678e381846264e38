"""Every benchmark in one markdown table; `--write FILE` also records it with the machine.

Runs each script in its own interpreter (settings are read once per process) with `--json`; a
script answers with a JSON list of rows `{area, measure, value, goal, met}` as its last stdout
line. Scripts that may be absent (bench/authorizer.py, bench/dynamo_calls.py) are run when
present: their rows join the table if they speak `--json`, otherwise their own output is appended
verbatim under the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [
    "cold_start.py",
    "authorizer.py",
    "request_overhead.py",
    "dynamo_calls.py",
    "login_latency.py",
    "password_reset.py",
    "load_local.py",
]


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"nproc {os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}, load average at start {load:.2f}"
    )


def run(script: str) -> tuple[list[dict[str, Any]], str]:
    """(rows, verbatim output) of one script."""
    path = ROOT / "bench" / script
    command = [sys.executable, str(path), "--json"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        try:
            rows = json.loads(lines[-1])
            if isinstance(rows, list):
                return rows, ""
        except ValueError:
            pass
    # Not our protocol: run it plainly and keep what it prints.
    plain = subprocess.run(
        [sys.executable, str(path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    text = plain.stdout.strip() or plain.stderr.strip()[-2000:]
    if plain.returncode != 0:
        text = f"(exit {plain.returncode})\n{text}"
    return [], text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", help="also write the table and the machine to this file")
    args = parser.parse_args()
    started = machine()
    rows: list[dict[str, Any]] = []
    verbatim: list[str] = []
    skipped: list[str] = []
    for script in SCRIPTS:
        if not (ROOT / "bench" / script).exists():
            skipped.append(script)
            continue
        script_rows, text = run(script)
        rows.extend(script_rows)
        if text:
            verbatim.append(f"### bench/{script}\n\n{text}\n")
    lines = ["| area | measure | value | goal | met |", "|---|---|---|---|---|"]
    for row in rows:
        cells = [row["area"], row["measure"], row["value"], row.get("goal", ""), row.get("met", "")]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    table = "\n".join(lines)
    report = [table]
    if verbatim:
        report.append("\n".join(verbatim))
    if skipped:
        report.append("Not run (script missing): " + ", ".join(f"bench/{s}" for s in skipped))
    output = "\n\n".join(report)
    print(output)
    if args.write:
        taken = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        Path(args.write).write_text(
            "# Performance\n\n"
            "Written by `make bench` (bench/run_all.py); the last run replaces this file.\n\n"
            f"Taken {taken} on: {started}.\n\n{output}\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
