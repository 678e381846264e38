"""Fail closed at init: a deployed function never runs on the local stage's defaults.

Inside AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` is set) the function refuses to serve when the
stage is missing or a local one (`local`, `test`), when no keyring secret is configured or it
cannot be loaded, when there is no keyed-hash key, or when an `ALLOWED_ORIGINS` entry is not an
exact https origin (a typo there would silently allow nothing, a wildcard everything).
Otherwise such a function would run with the public development HMAC key for cursors and e-mail
pseudonyms, an ephemeral keyring, rate limiting off and localhost origins allowed.
`check_at_init()` is called once when `app.py` is imported: it logs ONE error line naming the
problem (never a secret, never a traceback), and from then on the HTTP boundary answers every
request with the contract's 500 and the authorizers deny, so the failure is loud, safe and
visible in the logs and metrics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from chalicelib.core.cors import origin_problem
from chalicelib.core.keyring import keyring
from chalicelib.core.observability import logger
from chalicelib.core.settings import LOCAL_STAGES, get_settings

_refusal: str | None = None


class ConfigurationRefused(RuntimeError):
    """Raised by entry points that cannot answer an HTTP 500 themselves (the authorizers)."""

    def __init__(self) -> None:
        super().__init__("configuration refused at init; see the function's first log line")


def in_lambda(env: Mapping[str, str] = os.environ) -> bool:
    """True inside an AWS Lambda execution environment."""
    return bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))


def deployment_problem(env: Mapping[str, str] = os.environ) -> str | None:
    """What keeps this deployed function from running safely, or None."""
    stage = env.get("DESKGUARD_STAGE", "")
    if not stage or stage in LOCAL_STAGES:
        return f"DESKGUARD_STAGE is {stage or 'not set'}: a deployed function needs its own stage"
    if not (env.get("JWT_SIGNING_KEY_SECRET_ID") or env.get("JWT_KEYRING")):
        return "no keyring: set JWT_SIGNING_KEY_SECRET_ID to the stage's signing-keys secret"
    try:
        ring = keyring()
    except Exception as error:  # any failure to load or parse the secret refuses the function
        return f"the keyring could not be loaded ({type(error).__name__})"
    if not (get_settings().security_hmac_key or ring.hmac_key):
        return "no keyed-hash key: the keyring secret has no `hmac` (infra.signing_keys init)"
    for origin in get_settings().allowed_origins:
        problem = origin_problem(origin, deployed=True)
        if problem is not None:
            return f"ALLOWED_ORIGINS: {problem}"
    return None


def check_at_init() -> None:
    """Inside Lambda: refuse to serve (one log line) if the deployment is misconfigured."""
    global _refusal
    if not in_lambda():
        return
    _refusal = deployment_problem()
    if _refusal is not None:
        logger.error(f"configuration refused, serving 500 only: {_refusal}")


def refusal() -> str | None:
    """Why this function refuses to serve (None: it serves)."""
    return _refusal
