"""The Ed25519 keyring and JWT codec: standard EdDSA (RFC 8037), one algorithm, strict parsing.

`cryptography` (a test-only dependency, through moto) is the reference implementation: tokens
must cross between it and our PyNaCl codec in both directions.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from chalicelib.auth import jwt_codec
from chalicelib.core import b64, keyring

CLAIMS = {"sub": "u-1", "aud": "deskguard"}


def _ring() -> tuple[keyring.Keyring, dict[str, Any]]:
    raw = keyring.generate_keyring_json("kid-a")
    return keyring.parse_keyring(raw), json.loads(raw)


def test_our_tokens_verify_with_the_reference_implementation() -> None:
    ring, data = _ring()
    kid, private = ring.signing_key()
    token = jwt_codec.encode_jwt(CLAIMS, private, kid)
    public = Ed25519PublicKey.from_public_bytes(b64.b64url_decode(data["keys"][kid]["public"]))
    assert jwt.decode(token, public, algorithms=["EdDSA"], audience="deskguard") == CLAIMS
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "typ": "JWT", "kid": "kid-a"}


def test_reference_tokens_verify_with_our_codec_and_tampering_does_not() -> None:
    reference = Ed25519PrivateKey.generate()
    token = jwt.encode(CLAIMS, reference, algorithm="EdDSA", headers={"kid": "x"})
    ours = keyring.parse_keyring(
        json.dumps(
            {
                "active": "x",
                "keys": {"x": {"public": b64.b64url(reference.public_key().public_bytes_raw())}},
            }
        )
    )
    public = ours.public_keys["x"]
    assert jwt_codec.decode_jwt(token, public, audience="deskguard") == CLAIMS
    head, body, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    for forged in (f"{head}.{body}.{flipped}", f"{head}.{body}.", f"{head}.{body}.AAAA"):
        with pytest.raises(jwt.InvalidSignatureError):
            jwt_codec.decode_jwt(forged, public, audience="deskguard")


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256", "RS256"])
def test_the_codec_knows_only_eddsa(alg: str) -> None:
    assert jwt_codec.JWT._jws.get_algorithms() == ["EdDSA"]
    hmac_token = jwt.encode(CLAIMS, "k" * 32, algorithm="HS256")
    ring, _ = _ring()
    with pytest.raises(jwt.InvalidAlgorithmError):
        jwt_codec.decode_jwt(hmac_token, ring.public_keys["kid-a"], audience="deskguard")
    with pytest.raises(NotImplementedError):
        jwt_codec.JWT.encode(CLAIMS, "k" * 32, algorithm=alg)


def test_keyring_json_holds_raw_keys_and_no_pem() -> None:
    _, data = _ring()
    entry = data["keys"]["kid-a"]
    assert len(b64.b64url_decode(entry["public"])) == 32
    assert len(b64.b64url_decode(entry["private"])) == 32
    assert "BEGIN" not in json.dumps(data)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["keys"]["kid-a"].update(public="not base64url!"),
        lambda d: d["keys"]["kid-a"].update(public=b64.b64url(b"short")),
        lambda d: d["keys"]["kid-a"].update(private=b64.b64url(b"\x00" * 32)),  # wrong pair
        lambda d: d.update(active="kid-missing"),
        lambda d: d["keys"]["kid-a"].update(public=7),
    ],
)
def test_malformed_keyrings_are_refused(mutate: Any) -> None:
    _, data = _ring()
    mutate(data)
    with pytest.raises((ValueError, KeyError, TypeError)):
        keyring.parse_keyring(json.dumps(data))


def test_verify_only_keys_cannot_sign() -> None:
    _, data = _ring()
    del data["keys"]["kid-a"]["private"]
    ring = keyring.parse_keyring(json.dumps(data))
    with pytest.raises(KeyError):
        ring.signing_key()
