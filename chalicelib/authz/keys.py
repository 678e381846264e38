"""Signing keys for session JWTs (Ed25519, `kid` in the header).

Sources, first match wins:
- `JWT_SIGNING_KEY_SECRET_ID`: a Secrets Manager secret holding the keyring JSON (deployed stages);
- `JWT_KEYRING`: the keyring JSON in the environment (the local stack writes one per run);
- local/test stages only: a keyring generated in memory.
Keyring JSON: `{"active": "<kid>", "keys": {"<kid>": {"private": "<PEM or absent>",
"public": "<PEM>"}}}`. Rotation: add a new kid, make it active; the old kid keeps verifying until
it is removed. The verifier (authorizer) needs public keys only.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import secrets
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from chalicelib.core.settings import get_settings


@dataclasses.dataclass(frozen=True)
class Keyring:
    active_kid: str
    private_keys: dict[str, Ed25519PrivateKey]
    public_keys: dict[str, Ed25519PublicKey]

    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        """The active kid and its private key (KeyError if this process holds no private key)."""
        return self.active_kid, self.private_keys[self.active_kid]


def generate_keyring_json(kid: str | None = None) -> str:
    """A fresh keyring with one Ed25519 key, as JSON (local stack, CLI, tests)."""
    kid = kid or f"k-{secrets.token_hex(4)}"
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return json.dumps({"active": kid, "keys": {kid: {"private": private, "public": public}}})


def parse_keyring(raw: str) -> Keyring:
    """Parse keyring JSON into key objects."""
    data: dict[str, Any] = json.loads(raw)
    private_keys: dict[str, Ed25519PrivateKey] = {}
    public_keys: dict[str, Ed25519PublicKey] = {}
    for kid, entry in data["keys"].items():
        public = serialization.load_pem_public_key(entry["public"].encode())
        if not isinstance(public, Ed25519PublicKey):
            raise ValueError(f"key {kid} is not Ed25519")
        public_keys[kid] = public
        if entry.get("private"):
            private = serialization.load_pem_private_key(entry["private"].encode(), password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"key {kid} is not Ed25519")
            private_keys[kid] = private
    return Keyring(active_kid=data["active"], private_keys=private_keys, public_keys=public_keys)


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
