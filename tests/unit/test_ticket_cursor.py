"""Cursors: round trip, and refusal of anything not minted for this org, caller and query."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.errors import ValidationFailed
from chalicelib.core.settings import override
from chalicelib.tickets import cursor

POSITION = {"pk": {"S": "ORG#acme#TICKET#1"}, "sk": {"S": "#TICKET"}}


def test_round_trip_and_binding() -> None:
    token = cursor.encode("acme", "q1", POSITION)
    assert cursor.decode("acme", "q1", token) == POSITION
    for org, binding in (("globex", "q1"), ("acme", "q2")):
        with pytest.raises(ValidationFailed):
            cursor.decode(org, binding, token)


def test_key_change_and_expiry_invalidate() -> None:
    token = cursor.encode("acme", "q", POSITION)
    with override(cursor_signing_key="another-key"), pytest.raises(ValidationFailed):
        cursor.decode("acme", "q", token)
    with override(cursor_ttl_seconds=-1):
        expired = cursor.encode("acme", "q", POSITION)
    with pytest.raises(ValidationFailed):
        cursor.decode("acme", "q", expired)


def test_production_requires_a_key() -> None:
    with override(stage="prod", cursor_signing_key=""), pytest.raises(RuntimeError):
        cursor.encode("acme", "q", POSITION)


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused(garbage: str) -> None:
    with pytest.raises(ValidationFailed):
        cursor.decode("acme", "q", garbage)
