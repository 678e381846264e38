"""Key material: the Ed25519 keys of session JWTs (`kid` in the header) and the keyed-hash key.

Sources, first match wins:
- `JWT_SIGNING_KEY_SECRET_ID`: a Secrets Manager secret holding the keyring JSON (deployed stages);
- `JWT_KEYRING`: the keyring JSON in the environment (the local stack writes one per run);
- local/test stages only: a keyring generated in memory.
Keyring JSON: `{"active": "<kid>", "keys": {"<kid>": {"public": "<key>", "private": "<seed>"}},
"hmac": "<key>"}`, each value raw 32 bytes in unpadded base64url (`public`/`private` are the `x`
and `d` of an Ed25519 JWK); `private` is absent for verify-only keys. Rotation: add a new kid,
make it active; the old kid keeps verifying until it is removed. The verifier (authorizer) needs
public keys only. `hmac` is the service's keyed-hash key (`chalicelib/core/keyed.py`: e-mail
pseudonyms, list cursors) for deployed stages, so one secret holds all key material.

The primitives are libsodium's, through PyNaCl: the same Ed25519 as `cryptography`, in 0.6 MiB of
Lambda bundle instead of 14 MiB (docs/decision-log.md). PyJWT knows no PyNaCl keys, so `JWT` below
is a PyJWT codec whose only algorithm is `Ed25519Algorithm`: no other algorithm, `none` and HMAC
included, can be chosen by a token.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import secrets
from typing import Any, NoReturn, cast

import jwt
from jwt.algorithms import Algorithm
from jwt.api_jws import PyJWS
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from chalicelib.core.keyed import b64url, b64url_decode
from chalicelib.core.settings import get_settings

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


@dataclasses.dataclass(frozen=True)
class Keyring:
    active_kid: str
    private_keys: dict[str, SigningKey]
    public_keys: dict[str, VerifyKey]
    hmac_key: bytes | None = None

    def signing_key(self) -> tuple[str, SigningKey]:
        """The active kid and its private key (KeyError if this process holds no private key)."""
        return self.active_kid, self.private_keys[self.active_kid]


def generate_keyring_json(kid: str | None = None) -> str:
    """A fresh keyring with one Ed25519 key, as JSON (local stack, CLI, tests)."""
    kid = kid or f"k-{secrets.token_hex(4)}"
    key = SigningKey.generate()
    entry = {"public": b64url(bytes(key.verify_key)), "private": b64url(bytes(key))}
    return json.dumps({"active": kid, "keys": {kid: entry}, "hmac": generate_hmac_key()})


def generate_hmac_key() -> str:
    """A fresh keyed-hash key for the keyring's `hmac` field."""
    return b64url(secrets.token_bytes(_KEY_BYTES))


def _raw_key(kid: str, field: str, value: Any) -> bytes:
    raw = b64url_decode(value) if isinstance(value, str) else b""
    if len(raw) != _KEY_BYTES:
        raise ValueError(f"key {kid}: {field} is not 32 bytes of base64url")
    return raw


def parse_keyring(raw: str) -> Keyring:
    """Parse keyring JSON into key objects (ValueError/KeyError/TypeError if malformed)."""
    data: dict[str, Any] = json.loads(raw)
    private_keys: dict[str, SigningKey] = {}
    public_keys: dict[str, VerifyKey] = {}
    for kid, entry in data["keys"].items():
        public = VerifyKey(_raw_key(kid, "public", entry["public"]))
        public_keys[kid] = public
        if entry.get("private"):
            private = SigningKey(_raw_key(kid, "private", entry["private"]))
            if private.verify_key != public:
                raise ValueError(f"key {kid}: private key does not match its public key")
            private_keys[kid] = private
    if not isinstance(data["active"], str) or data["active"] not in public_keys:
        raise ValueError("the active kid is not in the keyring")
    hmac_key = _raw_key("hmac", "hmac", data["hmac"]) if "hmac" in data else None
    return Keyring(
        active_kid=data["active"],
        private_keys=private_keys,
        public_keys=public_keys,
        hmac_key=hmac_key,
    )


def _load_raw() -> str:
    secret_id = os.environ.get("JWT_SIGNING_KEY_SECRET_ID")
    if secret_id:
        import boto3

        client = boto3.client("secretsmanager", region_name=get_settings().region)
        return str(client.get_secret_value(SecretId=secret_id)["SecretString"])
    raw = os.environ.get("JWT_KEYRING")
    if raw:
        return raw
    if get_settings().is_local:
        return generate_keyring_json("local-ephemeral")
    raise RuntimeError("no JWT signing keys configured (JWT_SIGNING_KEY_SECRET_ID or JWT_KEYRING)")


@functools.cache
def keyring() -> Keyring:
    """The process's keyring, loaded once per cold start."""
    return parse_keyring(_load_raw())


def reload_keyring() -> Keyring:
    """Drop the cached keyring (after a rotation, or in tests)."""
    keyring.cache_clear()
    return keyring()
