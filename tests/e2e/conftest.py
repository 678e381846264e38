"""The local stack (`python -m devstack`, what `make run` starts) as a subprocess on free ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    """Override the in-process moto fixture: e2e tests talk to a real local stack."""
    yield


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


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One stack shared by the e2e tests of a run."""
    stack = start_stack(tmp_path_factory.mktemp("stack") / "stack.log")
    try:
        yield stack
    finally:
        stop_stack(stack)


@pytest.fixture
def private_stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A stack of the test's own (for tests that stop it)."""
    stack = start_stack(tmp_path / "stack.log")
    try:
        yield stack
    finally:
        stop_stack(stack)
