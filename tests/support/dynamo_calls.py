"""Record the DynamoDB calls a block of code makes (operation and tables), in order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _tables(params: dict[str, Any]) -> tuple[str, ...]:
    if "TableName" in params:
        return (str(params["TableName"]),)
    if "RequestItems" in params:
        return tuple(sorted(params["RequestItems"]))
    if "TransactItems" in params:
        return tuple(
            sorted({next(iter(op.values()))["TableName"] for op in params["TransactItems"]})
        )
    return ()


@contextmanager
def dynamo_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, tuple[str, ...]]]]:
    """Yields the list that fills with (operation, tables) for every DynamoDB call inside."""
    from botocore.client import BaseClient

    calls: list[tuple[str, tuple[str, ...]]] = []
    original = BaseClient._make_api_call

    def recording(self: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append((operation_name, _tables(api_params)))
        return original(self, operation_name, api_params)

    with monkeypatch.context() as patch:
        patch.setattr(BaseClient, "_make_api_call", recording)
        yield calls
