"""Security events: the only way to log one is `emit(category, **fields)`.

Each event is one structured JSON log line with `category`, `request_id`, `user_id`,
`organization_id`, `route`, `ip`, `user_agent` from the request context, plus event fields that
pass an allowlist; anything else is dropped, so a password, token or body can never be logged here.
"""

from __future__ import annotations

from chalicelib.security_events.events import CATEGORIES, emit

__all__ = ["CATEGORIES", "emit"]
