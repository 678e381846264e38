"""Signing keys of a deployed stage, in its Secrets Manager secret (JWT_SIGNING_KEY_SECRET_ID).

    python -m infra.signing_keys init --stage prod      # first deploy: keyring + keyed-hash key
    python -m infra.signing_keys add --stage prod       # rotation 1: new key, verify-only
    python -m infra.signing_keys activate KID --stage prod   # rotation 2: sign with it
    python -m infra.signing_keys retire KID --stage prod     # rotation 3: drop the old key
    python -m infra.signing_keys show --stage prod      # kids only, never key material

Warm Lambda containers cache the keyring until they are replaced, so a new key is added first
(every container learns to verify it), the functions are recycled (`make deploy`), and only then
is it made active; the old key is retired once every token it signed has expired
(SESSION_TTL_SECONDS). docs/deploy.md has the full procedure. Key material is only ever
passed to Secrets Manager through the SDK, never on a command line or to a file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import boto3

from chalicelib.core.keyring import generate_hmac_key, generate_keyring_json, parse_keyring
from infra import stages


def _client() -> Any:
    return boto3.client("secretsmanager")


def secret_id(stage: str) -> str:
    secret = stages.stage_environment(stage).get("JWT_SIGNING_KEY_SECRET_ID")
    if not secret:
        raise SystemExit(f"stage {stage} has no JWT_SIGNING_KEY_SECRET_ID")
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
        raise SystemExit(f"stage {stage}: no keyring yet; run `init` first")
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
    data = _require(stage)
    if kid not in data["keys"]:
        raise SystemExit(f"unknown kid {kid}")
    data["active"] = kid
    _write(stage, data)


def retire(stage: str, kid: str) -> None:
    data = _require(stage)
    if kid == data["active"]:
        raise SystemExit("refusing to retire the active key; activate another one first")
    if data["keys"].pop(kid, None) is None:
        raise SystemExit(f"unknown kid {kid}")
    _write(stage, data)


def show(stage: str) -> dict[str, Any]:
    data = _require(stage)
    return {"active": data["active"], "kids": sorted(data["keys"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["init", "add", "activate", "retire", "show"])
    parser.add_argument("kid", nargs="?")
    parser.add_argument("--stage", required=True)
    args = parser.parse_args(argv)
    if args.command in {"activate", "retire"} and not args.kid:
        parser.error(f"{args.command} needs a KID")
    if args.command == "init":
        print(f"active kid: {init(args.stage)}")
    elif args.command == "add":
        print(f"added kid (verify-only): {add(args.stage)}")
    elif args.command == "activate":
        activate(args.stage, args.kid)
        print(f"active kid: {args.kid}")
    elif args.command == "retire":
        retire(args.stage, args.kid)
        print(f"retired kid: {args.kid}")
    else:
        print(json.dumps(show(args.stage)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
