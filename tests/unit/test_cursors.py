"""The one cursor codec: round trip, and refusal of anything not minted for this organization,
list, caller and query; the keyed-hash key it signs with on deployed stages."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.core import b64, cursors, keyring, list_query
from chalicelib.core.keyed import email_hash, keyed_digest
from chalicelib.core.settings import override

POSITION = {"pk": "ORG#acme#TICKET#1", "sk": "#TICKET"}


def test_round_trip_and_binding() -> None:
    token = cursors.encode("acme", "tickets|u1|{}", POSITION)
    assert token is not None
    assert cursors.decode("acme", "tickets|u1|{}", token) == POSITION
    assert cursors.decode("acme", "tickets|u1|{}", None) is None
    assert cursors.encode("acme", "q", None) is None  # no next page
    with pytest.raises(cursors.CursorRejected) as other_org:
        cursors.decode("globex", "tickets|u1|{}", token)
    assert other_org.value.containment_kind == cursors.CROSS_ORG
    for binding in ("tickets|u2|{}", "comments|u1|{}", "users"):
        with pytest.raises(cursors.CursorRejected) as other_query:
            cursors.decode("acme", binding, token)
        assert other_query.value.containment_kind is None


def test_tampering_is_reported_and_every_rejection_is_the_same_400() -> None:
    token = cursors.encode("acme", "q", POSITION)
    assert token is not None
    body, mac = token.split(".")
    # Each forgery differs from the token (a replaced character is never the one it replaces).
    last = "B" if mac.endswith("A") else "A"
    tail = "yy" if body.endswith("xx") else "xx"
    for forged in (f"{body}.{mac[:-1]}{last}", f"{body[:-2]}{tail}.{mac}", "a" * 3000, f"{body}.é"):
        with pytest.raises(cursors.CursorRejected) as rejected:
            cursors.decode("acme", "q", forged)
        assert rejected.value.containment_kind == cursors.TAMPERED
        assert rejected.value.status == 400
        assert rejected.value.details == [
            {"field": "cursor", "message": "invalid, expired or issued for another query"}
        ]


def test_key_change_and_expiry_invalidate() -> None:
    token = cursors.encode("acme", "q", POSITION)
    with override(security_hmac_key="another-key"), pytest.raises(cursors.CursorRejected):
        cursors.decode("acme", "q", token)
    with override(cursor_ttl_seconds=-1):
        expired = cursors.encode("acme", "q", POSITION)
    with pytest.raises(cursors.CursorRejected):
        cursors.decode("acme", "q", expired)


@pytest.fixture
def deployed_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    data = json.loads(keyring.generate_keyring_json("kid-1"))
    monkeypatch.setenv("JWT_KEYRING", json.dumps(data))
    keyring.reload_keyring()
    with override(stage="prod", security_hmac_key=""):
        yield data
    monkeypatch.undo()
    keyring.reload_keyring()


def test_deployed_stages_sign_with_the_keyring_secrets_hmac_key(
    deployed_keyring: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = b64.b64url_decode(str(deployed_keyring["hmac"]))
    expected = hmac.new(key, b"email\x00alice@example.com", hashlib.sha256).hexdigest()[:32]
    assert email_hash(" Alice@Example.com") == expected
    token = cursors.encode("acme", "q", POSITION)
    assert token is not None and cursors.decode("acme", "q", token) == POSITION

    del deployed_keyring["hmac"]  # a keyring stored before the field existed
    monkeypatch.setenv("JWT_KEYRING", json.dumps(deployed_keyring))
    keyring.reload_keyring()
    with pytest.raises(RuntimeError, match="keys init"):
        keyed_digest("cursor", b"x")


def _limit(raw: str) -> int | None:
    """`?limit=raw` through the list query schema: the limit, or None when refused."""
    try:
        return list_query.ListQuery.model_validate({"limit": raw}).limit
    except ValidationError as error:
        assert [(e["loc"], e["msg"]) for e in error.errors()] == [
            (("limit",), f"must be an integer from 1 to {cursors.MAX_LIMIT}")
        ]
        return None


def test_limit_is_1_to_100_in_ascii_digits() -> None:
    assert list_query.ListQuery().limit == 25
    assert (_limit("1"), _limit("100"), _limit("007")) == (1, 100, 7)
    for bad in ("0", "101", "-1", "+5", " 5", "5 ", "1.5", "1e2", "ten", "", "0100", "99999"):
        assert _limit(bad) is None, bad
    # Digits to `str.isdigit` and `int()`, not to the contract: superscripts, other scripts.
    for bad in ("\u00b2", "\u0661\u0662", "\uff15", "\u09e9"):
        assert _limit(bad) is None, bad


@settings(max_examples=300)
@given(st.text(max_size=8))
def test_a_limit_is_accepted_exactly_when_it_is_a_short_ascii_number_in_range(raw: str) -> None:
    expected = int(raw) if re.fullmatch("[0-9]{1,3}", raw) and 1 <= int(raw) <= 100 else None
    assert _limit(raw) == expected


def test_unknown_query_parameters_are_refused() -> None:
    with pytest.raises(ValidationError):
        list_query.ListQuery.model_validate({"limit": "5", "offset": "10"})


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused(garbage: str) -> None:
    with pytest.raises(cursors.CursorRejected):
        cursors.decode("acme", "q", garbage)
