"""Deployment checks: templates, packages, policies and stage tools, against a moto account per test
(stage tools write secrets; the IAM check drives the app). Shared fixtures: `tests/conftest.py`.
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
