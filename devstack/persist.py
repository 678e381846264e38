"""`make run PERSIST=1`: the local stack's data survives a restart.

moto keeps everything in memory, in the process that runs `make run`. At a clean stop the stack
pickles moto's backends of the services that hold Deskguard's data: DynamoDB (tables, items, the
audit stream's pending records), S3 (buckets with every object version, so an attachment's
scanned version id stays valid), KMS (the audit signing key, so old checkpoints still verify),
Secrets Manager and EventBridge, together with the JWT keyring (sessions survive too), the demo
credentials and which uploads the S3 event pump has already delivered. At the next start they
are put back before the tables and buckets are ensured; nothing is seeded again.

SQS is left out (its backend holds locks that cannot be pickled): the only queue is the scan
events recorder's, recreated empty at start. The file is written atomically with mode 0600 in
`.local/state/` and is only ever read by this same tool; a file from another moto version is
ignored (the stack starts afresh and says so).
"""

from __future__ import annotations

import copyreg
import dataclasses
import os
import pickle  # nosec B403 (the stack's own state file, see load())
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SERVICES = ("dynamodb", "s3", "kms", "secretsmanager", "events")
FORMAT = 1


@dataclasses.dataclass
class State:
    """What a restart restores."""

    backends: dict[str, dict[str, dict[str, Any]]]
    keyring: str
    organizations: list[dict[str, Any]]
    seen_uploads: set[tuple[str, str]]
    moto_version: str
    format: int = FORMAT


def _load_private_key(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, password=None)


def _reduce_private_key(key: Any) -> tuple[Any, tuple[bytes]]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_private_key, (pem,)


def _register_key_pickling() -> None:
    """moto's KMS keeps `cryptography` private keys, which do not pickle: pickle them as PEM."""
    for key in (
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),  # noqa: S505 (type probe)
    ):
        copyreg.pickle(type(key), _reduce_private_key)


def _moto_version() -> str:
    import moto

    return str(moto.__version__)


def _backend_dict(service: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)  # type: ignore[call-overload]


def save(
    path: Path,
    *,
    keyring: str,
    organizations: list[dict[str, Any]],
    seen_uploads: set[tuple[str, str]],
) -> None:
    """Write the current moto state and the stack's own state to `path` (atomically, 0600)."""
    from devstack.moto_lock import MOTO_LOCK

    _register_key_pickling()
    backends: dict[str, dict[str, dict[str, Any]]] = {}
    for service in SERVICES:
        per_account = _backend_dict(service)
        backends[service] = {
            account: dict(dict.items(per_account[account])) for account in list(per_account)
        }
    with MOTO_LOCK:  # a request still finishing must not change a table mid-pickle
        payload = pickle.dumps(_state(backends, keyring, organizations, seen_uploads))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(payload)
    os.replace(tmp, path)


def _state(
    backends: dict[str, dict[str, dict[str, Any]]],
    keyring: str,
    organizations: list[dict[str, Any]],
    seen_uploads: set[tuple[str, str]],
) -> State:
    return State(
        backends=backends,
        keyring=keyring,
        organizations=organizations,
        seen_uploads=set(seen_uploads),
        moto_version=_moto_version(),
    )


def load(path: Path) -> State | None:
    """The saved state, or None (no file yet, or one this moto cannot read)."""
    if not path.exists():
        return None
    _register_key_pickling()
    try:
        with path.open("rb") as src:
            # Written by save() above into the user's own .local/ with mode 0600; never a file
            # that came from elsewhere.
            state = pickle.load(src)  # noqa: S301  # nosec B301
    except Exception as error:  # an unreadable file must not stop the stack from starting
        print(f"PERSIST: cannot read {path} ({type(error).__name__}); starting afresh")
        return None
    if not isinstance(state, State) or state.format != FORMAT:
        print(f"PERSIST: {path} has an unknown format; starting afresh")
        return None
    if state.moto_version != _moto_version():
        print(
            f"PERSIST: {path} was written by moto {state.moto_version}, this is "
            f"{_moto_version()}; starting afresh"
        )
        return None
    return state


def restore(state: State) -> None:
    """Put the saved backends back into this process's moto (before anything uses them)."""
    for service, accounts in state.backends.items():
        per_account = _backend_dict(service)
        for account, regions in accounts.items():
            target = per_account[account]
            for region, backend in regions.items():
                target[region] = backend
