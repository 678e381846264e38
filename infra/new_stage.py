"""`make stage TENANT=acme`: add a per-tenant stage to `.chalice/config.json`.

The new stage copies `prod` (production settings: deletion protection, Object Lock in
compliance mode, 365-day logs) with its own table prefix, secret, issuer and bucket names.
S3 bucket names are global, so tenant buckets get a random suffix chosen once, here.
Review and commit the config change, then `make template` and `make deploy STAGE=acme`.
"""

from __future__ import annotations

import argparse
import copy
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from infra.stages import CONFIG_PATH, LOCAL_STAGES, STAGE_NAME, read_config

TEMPLATE_STAGE = "prod"


def tenant_stage(config: dict[str, Any], tenant: str, suffix: str) -> dict[str, Any]:
    """The config block of a new tenant stage."""
    if not STAGE_NAME.match(tenant) or tenant in LOCAL_STAGES | {"dev", "prod"}:
        raise ValueError(f"tenant name {tenant!r} must match {STAGE_NAME.pattern} and be new")
    if tenant in config["stages"]:
        raise ValueError(f"stage {tenant} already exists")
    stage: dict[str, Any] = copy.deepcopy(config["stages"][TEMPLATE_STAGE])
    stage["tags"] = {"deskguard:stage": tenant, "deskguard:tenant": tenant}
    prefix = f"deskguard-{tenant}"
    env = stage["environment_variables"]
    env.update(
        {
            "DESKGUARD_STAGE": tenant,
            "DESKGUARD_TABLE_PREFIX": prefix,
            "UPLOADS_BUCKET": f"{prefix}-uploads-{suffix}",
            "QUARANTINE_BUCKET": f"{prefix}-quarantine-{suffix}",
            "DEFINITIONS_BUCKET": f"{prefix}-av-definitions-{suffix}",
            "AUDIT_ARCHIVE_BUCKET": f"{prefix}-audit-archive-{suffix}",
            "JWT_SIGNING_KEY_SECRET_ID": f"{prefix}-signing-keys",
            "JWT_ISSUER": prefix,
        }
    )
    return stage


def add_tenant(tenant: str, path: Path = CONFIG_PATH, suffix: str | None = None) -> dict[str, Any]:
    config = read_config(path)
    config["stages"][tenant] = tenant_stage(config, tenant, suffix or secrets.token_hex(3))
    path.write_text(json.dumps(config, indent=2) + "\n")
    return dict(config["stages"][tenant])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tenant")
    args = parser.parse_args(argv)
    try:
        stage = add_tenant(args.tenant)
    except ValueError as error:
        raise SystemExit(str(error)) from None
    print(json.dumps({args.tenant: stage}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
