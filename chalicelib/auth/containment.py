"""Containment: a credential that probes is reported, then cut off; an account only on repeats.

Only signals that honest clients do not produce are counted (`chalicelib/api/routing.py` decides
which denial is which):
- `cross_org`: an id that exists in another organization (one indexed lookup on a 404), or
  another organization's list cursor;
- `tampered_cursor`: a cursor whose signature does not verify (forged or edited);
- `forbidden_write`: a state-changing request the RBAC table or a service refused (403).
A plain 404 (an id that exists nowhere: a stale link, a deleted ticket) and a forbidden read are
not signals; they are still logged as `security.authorization_failure`.

Counters are fixed windows (`CONTAINMENT_WINDOW_SECONDS`, the rate limiter's atomic counter):
- per credential (that session's jti, that API token): at `CONTAINMENT_SUSPICIOUS_THRESHOLD`
  signals one `security.suspicious_activity` (`reason=probing`); at
  `CONTAINMENT_REVOKE_THRESHOLD` that credential alone is revoked and flagged
  (`reason=credential_contained`). The owner's other sessions and tokens keep working.
- per account, cross-organization signals only, over all its credentials: at
  `CONTAINMENT_ACCOUNT_THRESHOLD` every credential of the account is revoked
  (`revoke_all_for_user`) and the account is flagged (`reason=account_contained`).
- forged credentials (an API token id with a wrong secret, a session JWT with a bad signature)
  have no trustworthy principal: they are counted per source IP and reported once a window at
  the suspicious threshold (`reason=forged_credentials`); nothing is revoked, so nobody can get
  someone else's credentials revoked by forging them.
Each threshold fires exactly once per window (the counter equals it exactly once). A failure of
the counter store never fails the request (logged; the denial itself still stands).
"""

from __future__ import annotations

from chalicelib.authz.principal import Principal, TokenType
from chalicelib.core.observability import current_context, logger
from chalicelib.core.org_keys import org_scoped
from chalicelib.core.settings import get_settings
from chalicelib.identity import flags
from chalicelib.identity.revocation import revoke_all_for_user, revoke_session
from chalicelib.ratelimit import limiter as ratelimit
from chalicelib.security_events.events import emit

CROSS_ORG = "cross_org"
TAMPERED_CURSOR = "tampered_cursor"
FORBIDDEN_WRITE = "forbidden_write"
FORGED_CREDENTIAL = "forged_credential"
SIGNALS = frozenset({CROSS_ORG, TAMPERED_CURSOR, FORBIDDEN_WRITE})
# Signals that widen containment from the credential to the account.
ACCOUNT_SIGNALS = frozenset({CROSS_ORG})


def _count(key: str) -> int | None:
    try:
        return ratelimit.count(key, get_settings().containment_window_seconds)
    except ratelimit.LimiterUnavailable:
        logger.error("containment counter unavailable")
        return None


def _credential_fields(principal: Principal) -> dict[str, str]:
    fields = {"token_type": principal.token_type.value}
    if principal.token_type is TokenType.API_TOKEN:
        fields["token_id"] = principal.token_id  # the public token id (its listing prefix)
    return fields


def record_signal(principal: Principal, kind: str) -> None:
    """Count one probing signal of this credential (and account) and apply the thresholds."""
    if kind not in SIGNALS:
        raise ValueError(f"not a containment signal: {kind}")
    settings = get_settings()
    window = settings.containment_window_seconds
    org, user = principal.organization_id, principal.user_id
    credential = _count(
        org_scoped(org, "CONTAIN", "CRED", principal.token_type.value, principal.token_id or "-")
    )
    if credential == settings.containment_suspicious_threshold:
        emit(
            "security.suspicious_activity",
            reason="probing",
            kind=kind,
            count=credential,
            threshold=credential,
            window_seconds=window,
            **_credential_fields(principal),
        )
    if credential == settings.containment_revoke_threshold:
        _contain_credential(principal, kind, credential)
    if kind in ACCOUNT_SIGNALS:
        account = _count(org_scoped(org, "CONTAIN", "USER", user, CROSS_ORG))
        if account == settings.containment_account_threshold:
            _contain_account(principal, kind, account)


def _contain_credential(principal: Principal, kind: str, count: int) -> None:
    org, user = principal.organization_id, principal.user_id
    reason = f"containment:{kind}"
    if principal.token_type is TokenType.API_TOKEN:
        # Token management (audit, transactions, cursors) loads on the rare containment, not
        # on every cold authorizer.
        from chalicelib.identity import api_tokens

        api_tokens.revoke_token_by_system(
            org, principal.token_id, reason=reason, actor_id=flags.CONTAINMENT_ACTOR
        )
    else:
        revoke_session(org, user, principal.token_id, principal.expires_at)
    flags.raise_flag(
        org,
        user_id=user,
        subject_type=principal.token_type.value,
        subject_id=principal.token_id,
        kind=kind,
        signals=count,
    )
    emit(
        "security.suspicious_activity",
        reason="credential_contained",
        action="revoke_credential",
        kind=kind,
        count=count,
        threshold=count,
        window_seconds=get_settings().containment_window_seconds,
        flagged_for_review=True,
        **_credential_fields(principal),
    )


def _contain_account(principal: Principal, kind: str, count: int) -> None:
    org, user = principal.organization_id, principal.user_id
    revoke_all_for_user(org, user, reason=f"containment:{kind}", actor_id=flags.CONTAINMENT_ACTOR)
    flags.raise_flag(
        org, user_id=user, subject_type="user", subject_id=user, kind=kind, signals=count
    )
    emit(
        "security.suspicious_activity",
        reason="account_contained",
        action="revoke_all_for_user",
        kind=kind,
        count=count,
        threshold=count,
        window_seconds=get_settings().containment_window_seconds,
        flagged_for_review=True,
    )


def record_forged_credential() -> None:
    """Count one forged credential from the caller's IP; report once at the threshold."""
    settings = get_settings()
    ip = current_context().ip or "unknown"
    count = _count(f"IP#{ip}#CONTAIN#{FORGED_CREDENTIAL}")
    if count == settings.containment_suspicious_threshold:
        emit(
            "security.suspicious_activity",
            reason="forged_credentials",
            kind=FORGED_CREDENTIAL,
            count=count,
            threshold=count,
            window_seconds=settings.containment_window_seconds,
        )
