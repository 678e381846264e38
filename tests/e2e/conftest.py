"""End-to-end tests talk to the local stack over HTTP (no in-process moto account here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack import start_stack, stop_stack


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
