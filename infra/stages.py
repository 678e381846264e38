"""Stages as `.chalice/config.json` declares them, and the settings each stage's functions see.

The template is generated from the same settings the deployed functions compute from their
environment (`chalicelib.core.settings.load`), so a table or bucket name cannot differ between
the code and the infrastructure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from chalicelib.core.settings import Settings, load

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / ".chalice" / "config.json"
LOCAL_STAGES = frozenset({"local", "test"})
# Stage names become table, bucket, secret and stack names: keep them short and DNS-safe.
STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{1,19}$")


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
        raise KeyError(f"stage {stage!r} is not in .chalice/config.json (see `make stage`)")
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
