"""One lock around every moto action in the local stack's process.

moto is not thread-safe, and the local stack serves many API requests at once (one thread per
connection) against one in-process moto server: DynamoDB's `TransactWriteItems` deep-copies
each table it writes for its rollback while another thread adds items to it ("dictionary
changed size during iteration", a 500 from moto that the app then retries or reports). Every
action is CPU-bound Python under the GIL anyway, so running one at a time costs next to no
throughput and makes every action see and leave a consistent state. The audit stream pump,
which reads moto's stream shard directly, takes the same lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

MOTO_LOCK = threading.RLock()


def serialize_moto_actions() -> None:
    """Wrap moto's action dispatch (`BaseResponse.call_action`) in `MOTO_LOCK` (idempotent)."""
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action
    if getattr(original, "serialized", False):
        return

    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with MOTO_LOCK:
            return original(self)

    call_action.serialized = True  # type: ignore[attr-defined]
    BaseResponse.call_action = call_action  # type: ignore[method-assign]
