"""The session JWT codec: Ed25519 (EdDSA) signatures with a `kid` in the header.

The primitives are libsodium's, through PyNaCl: the same Ed25519 as `cryptography`, in 0.6 MiB of
Lambda bundle instead of 14 MiB (docs/decision-log.md). PyJWT knows no PyNaCl keys, so `JWT` below
is a PyJWT codec whose only algorithm is `Ed25519Algorithm`: no other algorithm, `none` and HMAC
included, can be chosen by a token. The keys come from the stage's keyring
(`chalicelib/core/keyring.py`).
"""

from __future__ import annotations

from typing import Any, NoReturn, cast

import jwt
from jwt.algorithms import Algorithm
from jwt.api_jws import PyJWS
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ALGORITHM = "EdDSA"
_KEY_BYTES = 32
_SIGNATURE_BYTES = 64


def _verify_signature(public_key: VerifyKey, message: bytes, signature: bytes) -> bool:
    """True only for a valid Ed25519 signature of `message` under `public_key`."""
    if len(signature) != _SIGNATURE_BYTES:
        return False
    try:
        public_key.verify(message, signature)
    except BadSignatureError:
        return False
    return True


class Ed25519Algorithm(Algorithm):
    """PyJWT's `EdDSA` (RFC 8037, Ed25519) over PyNaCl keys."""

    def prepare_key(self, key: Any) -> SigningKey | VerifyKey:
        if isinstance(key, SigningKey | VerifyKey):
            return key
        raise jwt.InvalidKeyError("expected a PyNaCl Ed25519 key")

    def sign(self, msg: bytes, key: SigningKey) -> bytes:
        if not isinstance(key, SigningKey):
            raise jwt.InvalidKeyError("signing needs a private key")
        return bytes(key.sign(msg).signature)

    def verify(self, msg: bytes, key: SigningKey | VerifyKey, sig: bytes) -> bool:
        public = key.verify_key if isinstance(key, SigningKey) else key
        return _verify_signature(public, msg, sig)

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> NoReturn:
        raise NotImplementedError("keys are published as keyring JSON, not JWK")

    @staticmethod
    def from_jwk(jwk: Any) -> NoReturn:
        raise NotImplementedError("keys are read from keyring JSON, not JWK")


def _codec() -> jwt.PyJWT:
    signatures = PyJWS(algorithms=[])
    signatures.register_algorithm(ALGORITHM, Ed25519Algorithm())
    codec = jwt.PyJWT()
    codec._jws = signatures  # PyJWT has no public way to give a PyJWT instance its own PyJWS
    return codec


JWT = _codec()


def encode_jwt(claims: dict[str, Any], key: SigningKey, kid: str) -> str:
    """A compact JWS over `claims`, EdDSA, `kid` in the header."""
    return JWT.encode(claims, cast(Any, key), algorithm=ALGORITHM, headers={"kid": kid})


def decode_jwt(token: str, key: VerifyKey | SigningKey, **checks: Any) -> dict[str, Any]:
    """Verify an EdDSA token against `key`; `checks` are PyJWT's (audience, issuer, leeway,
    options). Raises `jwt.PyJWTError` on any failure."""
    return JWT.decode(token, cast(Any, key), algorithms=[ALGORITHM], **checks)
