"""Signing keys of a deployed stage, in its Secrets Manager secret (JWT_SIGNING_KEY_SECRET_ID).

Driven by `python -m cli keys ...` (`make keys`):

    init --stage prod           first deploy: keyring + keyed-hash key
    add --stage prod            rotation 1: new key, verify-only
    activate KID --stage prod   rotation 2: sign with it
    retire KID --stage prod     rotation 3: drop the old key
    show --stage prod           kids only, never key material

Warm Lambda containers cache the keyring until they are replaced, so a new key is added first
(every container learns to verify it), the functions are recycled (`make deploy`), and only then
is it made active; the old key is retired once every token it signed has expired
(SESSION_TTL_SECONDS). docs/deploy.md has the full procedure. Key material is only ever
passed to Secrets Manager through the SDK, never on a command line or to a file.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from chalicelib.core.keyring import generate_hmac_key, generate_keyring_json, parse_keyring
from infra import stages
from infra.errors import OperatorError


class KeyringError(OperatorError):
    """The stage's keyring cannot take the requested change."""


def _client() -> Any:
    return boto3.client("secretsmanager")


def secret_id(stage: str) -> str:
    """The id of the stage's signing-key secret."""
    secret = stages.stage_environment(stage).get("JWT_SIGNING_KEY_SECRET_ID")
    if not secret:
        raise KeyringError(f"Stage {stage} has no JWT_SIGNING_KEY_SECRET_ID.")
    return secret


def _read(stage: str) -> dict[str, Any] | None:
    raw = _client().get_secret_value(SecretId=secret_id(stage))["SecretString"]
    try:
        data: dict[str, Any] = json.loads(raw)
        parse_keyring(raw)
    except (ValueError, KeyError, TypeError):
        return None  # the stack's placeholder value: not a keyring yet
    return data


def _write(stage: str, data: dict[str, Any]) -> None:
    raw = json.dumps(data)
    parse_keyring(raw)  # never store something the functions cannot load
    _client().put_secret_value(SecretId=secret_id(stage), SecretString=raw)


def init(stage: str) -> str:
    """Store a fresh keyring unless a valid one is there (adding the keyed-hash key to one that
    predates it); returns the active kid."""
    current = _read(stage)
    if current is not None:
        if "hmac" not in current:
            current["hmac"] = generate_hmac_key()
            _write(stage, current)
        return str(current["active"])
    data = json.loads(generate_keyring_json())
    _write(stage, data)
    return str(data["active"])


def _require(stage: str) -> dict[str, Any]:
    data = _read(stage)
    if data is None:
        raise KeyringError(f"Stage {stage} has no keyring yet; run `keys init` first.")
    return data


def add(stage: str) -> str:
    """Add a new key that verifies but does not sign yet; returns its kid."""
    data = _require(stage)
    fresh = json.loads(generate_keyring_json())
    kid = str(fresh["active"])
    data["keys"][kid] = fresh["keys"][kid]
    _write(stage, data)
    return kid


def activate(stage: str, kid: str) -> None:
    """Sign new tokens with `kid` (added earlier with `add`)."""
    data = _require(stage)
    if kid not in data["keys"]:
        raise KeyringError(f"Stage {stage} has no key {kid}.")
    data["active"] = kid
    _write(stage, data)


def retire(stage: str, kid: str) -> None:
    """Drop `kid`: tokens it signed stop verifying. Never the active key."""
    data = _require(stage)
    if kid == data["active"]:
        raise KeyringError(f"Key {kid} is active; activate another one before retiring it.")
    if data["keys"].pop(kid, None) is None:
        raise KeyringError(f"Stage {stage} has no key {kid}.")
    _write(stage, data)


def show(stage: str) -> dict[str, Any]:
    """The active kid and every kid, never key material."""
    data = _require(stage)
    return {"active": data["active"], "kids": sorted(data["keys"])}
