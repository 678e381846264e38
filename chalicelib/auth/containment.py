"""Containment: a principal that keeps probing is reported, then cut off.

Every denial of an authenticated principal counts in one fixed-window counter per principal
(`CONTAINMENT_WINDOW_SECONDS`): 403s (forbidden actions/updates), 404s (objects outside the
caller's organization look exactly like missing ones, so repeated 404s are how cross-organization
probing shows), and explicit cross-organization signals such as another organization's cursor.
- At `CONTAINMENT_SUSPICIOUS_THRESHOLD` denials in a window: one `security.suspicious_activity`.
- At `CONTAINMENT_REVOKE_THRESHOLD`: every session/token of the principal is revoked
  (`revoke_all_for_user`), the account is flagged for admin review, and a second event says so.
Each threshold fires exactly once per window (the counter's value equals it exactly once). A
failure of the counter store never fails the request (logged; the denial itself still stands).
"""

from __future__ import annotations

from chalicelib.core.observability import logger
from chalicelib.core.org_keys import org_scoped
from chalicelib.core.settings import get_settings
from chalicelib.identity.revocation import revoke_all_for_user
from chalicelib.ratelimit import limiter as ratelimit
from chalicelib.security_events.events import emit

FORBIDDEN = "forbidden"
NOT_FOUND = "not_found"
CROSS_ORG = "cross_org"


def record_denial(organization_id: str, user_id: str, kind: str) -> None:
    """Count one denial of this principal and apply the thresholds."""
    settings = get_settings()
    window = settings.containment_window_seconds
    try:
        count = ratelimit.count(org_scoped(organization_id, "CONTAIN", "USER", user_id), window)
    except ratelimit.LimiterUnavailable:
        logger.error("containment counter unavailable", extra={"kind": kind})
        return
    if count == settings.containment_suspicious_threshold:
        emit(
            "security.suspicious_activity",
            reason="repeated_denials",
            kind=kind,
            count=count,
            threshold=count,
            window_seconds=window,
        )
    if count == settings.containment_revoke_threshold:
        revoke_all_for_user(
            organization_id, user_id, reason=f"containment:{kind}", actor_id="system:containment"
        )
        emit(
            "security.suspicious_activity",
            reason="credentials_revoked",
            action="revoke_all_for_user",
            kind=kind,
            count=count,
            threshold=count,
            window_seconds=window,
            flagged_for_review=True,
        )
