"""A fresh mocked AWS account (moto) with every table and bucket the stack creates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto import mock_aws


@contextmanager
def mocked_account() -> Iterator[None]:
    """Every AWS call inside goes to a new, empty moto account holding the stack's resources."""
    with mock_aws():
        from chalicelib.tables import create_tables
        from devstack.resources import create_buckets

        create_tables()
        create_buckets()
        yield
