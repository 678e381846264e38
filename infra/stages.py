"""Stages as `.chalice/config.json` declares them, the settings each stage's functions see, and
the one edit the tools make to that file: adding a per-tenant stage (`python -m cli stages new`).

The template is generated from the same settings the deployed functions compute from their
environment (`chalicelib.core.settings.load`), so a table or bucket name cannot differ between
the code and the infrastructure.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from pathlib import Path
from typing import Any

from chalicelib.core.settings import Settings, load
from infra.errors import OperatorError

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / ".chalice" / "config.json"
LOCAL_STAGES = frozenset({"local", "test"})
# Stage names become table, bucket, secret and stack names: keep them short and DNS-safe.
STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{1,19}$")
# A tenant's stage copies this one (deletion protection, Object Lock in compliance mode, 365-day
# log retention).
TEMPLATE_STAGE = "prod"


class UnknownStage(OperatorError, KeyError):
    """The stage is not in `.chalice/config.json`."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class InvalidStage(OperatorError, ValueError):
    """A new stage's name is malformed or taken."""


def read_config(path: Path = CONFIG_PATH) -> dict[str, Any]:
    """The Chalice config file."""
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def stage_names(config: dict[str, Any] | None = None) -> list[str]:
    """Every stage in the config, local included."""
    return list((config or read_config())["stages"])


def deployed_stage_names(config: dict[str, Any] | None = None) -> list[str]:
    """Stages that go to AWS (all but `local`)."""
    return [name for name in stage_names(config) if name not in LOCAL_STAGES]


def stage_environment(stage: str, config: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment variables a function of `stage` gets (global merged with the stage's)."""
    config = config or read_config()
    if stage not in config["stages"]:
        raise UnknownStage(f"Stage {stage} is not in .chalice/config.json (see `make stage`).")
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


def stage_settings(stage: str, config: dict[str, Any] | None = None) -> Settings:
    """The settings the deployed functions of `stage` will compute from their environment."""
    env = stage_environment(stage, config)
    if env.get("DESKGUARD_STAGE") != stage:
        raise ValueError(f"stage {stage!r}: DESKGUARD_STAGE must equal the stage name")
    return load(env)


def stage_option(stage: str, name: str, default: Any, config: dict[str, Any] | None = None) -> Any:
    """A stage-level Chalice option (stage value, else top-level value, else `default`)."""
    config = config or read_config()
    stage_cfg = config["stages"].get(stage, {})
    if name in stage_cfg:
        return stage_cfg[name]
    return config.get(name, default)


def is_production(stage: str) -> bool:
    """Every deployed stage but `dev` holds real data (prod and each tenant's stage)."""
    return stage not in LOCAL_STAGES and stage != "dev"


def public_settings_problem(stage: str, config: dict[str, Any] | None = None) -> str | None:
    """For a production stage: `PUBLIC_APP_URL` (https), `MAIL_DOMAIN` and `MAIL_FROM` must be
    set in its environment, or reset, invitation and unsubscribe links and reply addresses
    would point at the local defaults. The deploy commands refuse (exit 1) with this sentence
    before changing anything in AWS; None when the stage is ready."""
    if not is_production(stage):
        return None
    env = stage_environment(stage, config)
    missing = {name for name in ("PUBLIC_APP_URL", "MAIL_DOMAIN", "MAIL_FROM") if not env.get(name)}
    if not env.get("PUBLIC_APP_URL", "").startswith("https://"):
        missing.add("PUBLIC_APP_URL")
    if not missing:
        return None
    return (
        f"Stage {stage}: set {', '.join(sorted(missing))} in its environment_variables in "
        ".chalice/config.json (PUBLIC_APP_URL must be https://...) before deploying."
    )


def tenant_stage(config: dict[str, Any], tenant: str, suffix: str) -> dict[str, Any]:
    """The config block of a new tenant stage: a copy of `prod` with its own names.

    S3 bucket names are global, so tenant buckets get a random `suffix` chosen once, at creation.
    """
    if not STAGE_NAME.match(tenant) or tenant in LOCAL_STAGES | {"dev", TEMPLATE_STAGE}:
        raise InvalidStage(
            f"Tenant name {tenant!r} must match {STAGE_NAME.pattern} and not be a built-in stage."
        )
    if tenant in config["stages"]:
        raise InvalidStage(f"Stage {tenant} already exists in .chalice/config.json.")
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
            "INBOUND_MAIL_BUCKET": f"{prefix}-inbound-mail-{suffix}",
            "JWT_SIGNING_KEY_SECRET_ID": f"{prefix}-signing-keys",
            "JWT_ISSUER": prefix,
        }
    )
    return stage


def add_tenant(tenant: str, path: Path | None = None, suffix: str | None = None) -> dict[str, Any]:
    """Add the tenant's stage to the config file at `path` (default `.chalice/config.json`);
    returns the new stage's block."""
    path = path or CONFIG_PATH
    config = read_config(path)
    config["stages"][tenant] = tenant_stage(config, tenant, suffix or secrets.token_hex(3))
    path.write_text(json.dumps(config, indent=2) + "\n")
    return dict(config["stages"][tenant])
