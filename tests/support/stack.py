"""The local stack (`python -m devstack`, what `make run` starts) as a subprocess on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(log_path: Path) -> dict[str, Any]:
    """Start `python -m devstack` on free ports and wait until it serves."""
    port, moto_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DESKGUARD_", "JWT_", "BCRYPT_"))
    }
    credentials_file = log_path.parent / "demo-credentials.json"
    env.update(
        {
            "PORT": str(port),
            "MOTO_PORT": str(moto_port),
            "PYTHONUNBUFFERED": "1",
            "CREDENTIALS_FILE": str(credentials_file),
            "SCAN_EVENTS_FILE": str(log_path.parent / "scan-events.jsonl"),
        }
    )
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 60
    while "listening on" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"local stack did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    credentials = json.loads(credentials_file.read_text())
    return {
        "url": f"http://127.0.0.1:{port}",
        "moto_port": moto_port,
        "port": port,
        "credentials": credentials,
        "process": process,
        "log": log_path,
        "scan_events": log_path.parent / "scan-events.jsonl",
    }


def stop_stack(stack: dict[str, Any]) -> None:
    process = stack["process"]
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
