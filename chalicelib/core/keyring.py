"""The stage's keyring: the Ed25519 keys of session JWTs and the keyed-hash key, loaded once.

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
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import secrets
import threading
import time
from typing import Any

from nacl.signing import SigningKey, VerifyKey

from chalicelib.core.b64 import b64url, b64url_decode
from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings

_KEY_BYTES = 32


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
    if get_settings().is_local and not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return generate_keyring_json("local-ephemeral")  # never inside Lambda
    raise RuntimeError("no JWT signing keys configured (JWT_SIGNING_KEY_SECRET_ID or JWT_KEYRING)")


_lock = threading.Lock()
_loaded: Keyring | None = None
_last_reload = -math.inf  # time.monotonic() of the last reload for an unknown kid


def keyring() -> Keyring:
    """The process's keyring, loaded once per cold start (see `public_key` for rotations)."""
    global _loaded
    current = _loaded
    if current is None:
        with _lock:
            if _loaded is None:
                _loaded = parse_keyring(_load_raw())
            current = _loaded
    return current


def reload_keyring() -> Keyring:
    """Load the keyring again now (tests, tools); requests use `public_key`."""
    global _loaded, _last_reload
    with _lock:
        _loaded = None
        _last_reload = -math.inf
    return keyring()


def public_key(kid: str) -> VerifyKey | None:
    """The public key of `kid`; an unknown kid reloads the keyring at most once per interval.

    Rotation adds a kid to the secret (`make keys ... add`); a warm container that meets a token
    signed with it reloads the secret once and verifies it, without a redeploy. Further unknown
    kids within `KEYRING_RELOAD_INTERVAL_SECONDS` of that reload are refused from memory, so a
    flood of made-up kids costs one Secrets Manager call per interval, not one per request.
    """
    global _loaded, _last_reload
    known = keyring().public_keys.get(kid)
    if known is not None:
        return known
    with _lock:
        now = time.monotonic()
        if now - _last_reload < get_settings().keyring_reload_interval_seconds:
            return _loaded.public_keys.get(kid) if _loaded else None
        _last_reload = now
        try:
            _loaded = parse_keyring(_load_raw())
        except Exception:  # keep the keys we have; the token is refused
            logger.warning("keyring reload failed; keeping the loaded keys")
            return None
        return _loaded.public_keys.get(kid)
