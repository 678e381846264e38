"""In-process integration tests: each test runs in its own moto account (tables and buckets).

The app, client and organization fixtures are shared from `tests/conftest.py`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.aws import mocked_account


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    """A fresh mocked AWS account per test, with every table and bucket created."""
    with mocked_account():
        yield
