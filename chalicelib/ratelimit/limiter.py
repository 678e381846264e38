"""Rate limiting: the ONE limits table and the DynamoDB-backed counter behind it.

Every API route belongs to a route class (`ROUTE_CLASSES`, keyed by method and path template; any
route not listed is `default`). Each class has a per-IP and a per-principal limit and a failure
policy (`LIMITS`). Login has its own policy (`begin_login`): only failed attempts count, per IP,
per (account, IP) and, per account over all IPs, as an exponential slow-down rather than a lock;
a device cookie from an earlier successful login lets its holder past the account-wide limits.
`docs/rate-limits.md` is generated from these tables (`make generate`); a test fails
when it is out of date.

Algorithm: fixed window. The counter item's key holds the window start, and ONE conditional
`UpdateItem` (`ADD hits 1` if `hits` is absent or below limit+1) both counts and decides, so
concurrent requests can never be admitted past the limit (no read-then-write). The counter stops
at limit+1: the request that moves it there is the first violation of the window (one event),
later ones fail the condition and write nothing. Items carry a TTL of the window's end plus a
grace; a stale item that TTL has not yet deleted is never read because a new window is a new key.

Failure policy (DynamoDB unreachable, throttled, table missing): `auth` fails CLOSED (429 with a
short Retry-After: a login storm must not become an unthrottled password-guessing window); every
other class fails OPEN (the request proceeds; a `security.rate_limit_violation` event with
reason `limiter_unavailable` is emitted at most once a minute per class and process).

Why one module of this size: the limits table is the document ops read, and the counter, the
failure policy and the login throttling beside it are what those numbers mean.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
import time
from datetime import UTC, datetime

from pynamodb.exceptions import PynamoDBException

from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.errors import RateLimited
from chalicelib.core.keyed import email_hash
from chalicelib.core.observability import count_metric, logger
from chalicelib.core.org_keys import org_scoped
from chalicelib.core.route_classes import (
    ATTACHMENT_CREATE,
    AUTH,
    BULK,
    COMMENT_CREATE,
    DEFAULT,
    PASSWORD,
    TICKET_CREATE,
)
from chalicelib.core.settings import get_settings
from chalicelib.ratelimit.models import LoginSlowdownItem, RateLimitItem
from chalicelib.security_events import emit


class FailureMode(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"


@dataclasses.dataclass(frozen=True)
class Limit:
    """At most `requests` in each fixed window of `window_seconds`."""

    requests: int
    window_seconds: int


@dataclasses.dataclass(frozen=True)
class RouteClassLimits:
    description: str
    per_ip: Limit | None
    per_principal: Limit | None
    on_failure: FailureMode


# --- The limits table (ops read this; docs/rate-limits.md is generated from it) ---------------
LIMITS: dict[str, RouteClassLimits] = {
    AUTH: RouteClassLimits(
        "Login. Only failed attempts count, per IP and per account: see the login policy below.",
        per_ip=None,  # successful logins never count; LOGIN_IP_FAILURES limits failures per IP
        per_principal=None,  # no principal before login
        on_failure=FailureMode.CLOSED,
    ),
    PASSWORD: RouteClassLimits(
        "Change a password, request a reset link or complete a reset (the reset request also "
        "sends at most 3 mails per account an hour).",
        Limit(10, 300),
        Limit(5, 300),
        FailureMode.CLOSED,
    ),
    TICKET_CREATE: RouteClassLimits(
        "Create a ticket.", Limit(60, 60), Limit(30, 60), FailureMode.OPEN
    ),
    COMMENT_CREATE: RouteClassLimits(
        "Add a comment or internal note.", Limit(120, 60), Limit(60, 60), FailureMode.OPEN
    ),
    BULK: RouteClassLimits(
        "Bulk ticket actions (up to 100 ids each).", Limit(20, 60), Limit(10, 60), FailureMode.OPEN
    ),
    ATTACHMENT_CREATE: RouteClassLimits(
        "Request an attachment upload.", Limit(60, 60), Limit(20, 60), FailureMode.OPEN
    ),
    DEFAULT: RouteClassLimits(
        "Every other route.", Limit(600, 60), Limit(300, 60), FailureMode.OPEN
    ),
}

# Login (see `begin_login`). Only FAILED attempts count: a successful login gives back what it
# was counted against, so logging in often never throttles anyone.
# Failures per source IP, over all accounts (credential stuffing from one address).
LOGIN_IP_FAILURES = Limit(20, 300)
# Failures per (account, IP): one address guessing one account.
LOGIN_ACCOUNT_IP_FAILURES = Limit(5, 900)
# Per account over all IPs: never a lock, an exponential slow-down. After LOGIN_FREE_FAILURES
# failures in the window, the next attempt waits LOGIN_BASE_DELAY * 2^(failures - free) seconds
# after the last failure, at most LOGIN_MAX_DELAY. Attempts refused during the wait are not
# failures (they do not lengthen it); a successful login ends it.
LOGIN_SLOWDOWN_WINDOW_SECONDS = 3600
LOGIN_FREE_FAILURES = 5
LOGIN_BASE_DELAY_SECONDS = 1
LOGIN_MAX_DELAY_SECONDS = 300
# A client holding a valid device cookie of the account (set at a successful login) skips the
# per-account slow-down and the per-(account, IP) limit, up to this many failures of its own.
LOGIN_DEVICE_FAILURES = Limit(5, 900)

# ----------------------------------------------------------------------------------------------

FAILURE_RETRY_AFTER_SECONDS = 5
TTL_GRACE_SECONDS = 60
FAILURE_EVENT_INTERVAL_SECONDS = 60


@dataclasses.dataclass(frozen=True)
class Decision:
    """The outcome for one limit key."""

    admitted: bool
    limit: int
    remaining: int
    reset_seconds: int
    first_violation: bool = False

    def headers(self) -> dict[str, str]:
        """`RateLimit-*` headers (IETF draft: Reset is seconds until the window resets)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_seconds),
        }
        if not self.admitted:
            headers["Retry-After"] = str(self.reset_seconds)
        return headers


class LimiterUnavailable(Exception):
    """The counter store failed (not a limit decision)."""


def hit(key: str, limit: Limit, *, now: float | None = None) -> Decision:
    """Count one request against `key` and decide, in one conditional UpdateItem."""
    now = time.time() if now is None else now
    window_start = int(now) - int(now) % limit.window_seconds
    reset = max(1, math.ceil(window_start + limit.window_seconds - now))
    item = RateLimitItem(f"{key}#W{window_start}")
    cap = limit.requests + 1
    expires = datetime.fromtimestamp(
        window_start + limit.window_seconds + TTL_GRACE_SECONDS, tz=UTC
    )
    try:
        item.update(
            actions=[RateLimitItem.hits.add(1), RateLimitItem.expires_at.set(expires)],
            condition=RateLimitItem.hits.does_not_exist() | (RateLimitItem.hits < cap),
        )
    except PynamoDBException as error:
        if is_condition_failure(error):
            return Decision(False, limit.requests, 0, reset)
        raise LimiterUnavailable(str(error)) from error
    hits = int(item.hits)
    return Decision(
        admitted=hits <= limit.requests,
        limit=limit.requests,
        remaining=max(0, limit.requests - hits),
        reset_seconds=reset,
        first_violation=hits == cap,
    )


def count(key: str, window_seconds: int, *, now: float | None = None) -> int:
    """Add one to an unbounded fixed-window counter and return the new count (containment)."""
    now = time.time() if now is None else now
    window_start = int(now) - int(now) % window_seconds
    item = RateLimitItem(f"{key}#W{window_start}")
    expires = datetime.fromtimestamp(window_start + window_seconds + TTL_GRACE_SECONDS, tz=UTC)
    try:
        item.update(actions=[RateLimitItem.hits.add(1), RateLimitItem.expires_at.set(expires)])
    except PynamoDBException as error:
        raise LimiterUnavailable(str(error)) from error
    return int(item.hits)


_failure_events: dict[str, float] = {}
_failure_lock = threading.Lock()


def _on_failure(route_cls: str, error: LimiterUnavailable) -> Decision | None:
    """Apply the class's failure policy; returns None to fail open, raises to fail closed."""
    mode = LIMITS[route_cls].on_failure
    logger.error("rate limiter unavailable", extra={"route_class": route_cls, "mode": mode.value})
    now = time.monotonic()
    with _failure_lock:
        due = now - _failure_events.get(route_cls, -math.inf) >= FAILURE_EVENT_INTERVAL_SECONDS
        if due:
            _failure_events[route_cls] = now
    if due:
        emit(
            "security.rate_limit_violation",
            reason="limiter_unavailable",
            decision=f"fail_{mode.value}",
            route_class=route_cls,
        )
    if mode is FailureMode.CLOSED:
        raise RateLimited(
            "Too many requests; retry later.",
            headers={"Retry-After": str(FAILURE_RETRY_AFTER_SECONDS)},
        ) from error
    return None


def _violation(route_cls: str, scope: str, limit: Limit, decision: Decision, **fields: str) -> None:
    count_metric(
        "RateLimitRejected",
        {"stage": get_settings().stage, "route_class": route_cls, "scope": scope},
    )
    if decision.first_violation:
        emit(
            "security.rate_limit_violation",
            reason="limit_exceeded",
            route_class=route_cls,
            scope=scope,
            limit=limit.requests,
            window_seconds=limit.window_seconds,
            **fields,
        )
    raise RateLimited(headers=decision.headers())


def scaled(limit: Limit) -> Limit:
    """`limit` with its request budget multiplied by RATE_LIMIT_SCALE (1 in deployed stages)."""
    scale = get_settings().rate_limit_scale
    if scale == 1:
        return limit
    return Limit(max(1, math.floor(limit.requests * scale)), limit.window_seconds)


def enforce(
    route_cls: str,
    *,
    ip: str | None,
    organization_id: str | None,
    user_id: str | None,
    now: float | None = None,
) -> Decision | None:
    """Count the request against its class's per-IP and per-principal limits.

    Returns the tightest decision (for the `RateLimit-*` headers), None when limiting is off,
    or raises RateLimited (429 with `Retry-After`).
    """
    if not get_settings().rate_limit_enabled:
        return None
    limits = LIMITS.get(route_cls, LIMITS[DEFAULT])
    checks: list[tuple[str, str, Limit]] = []
    if limits.per_ip is not None and ip:
        checks.append(("ip", f"IP#{ip}#RL#{route_cls}", scaled(limits.per_ip)))
    if limits.per_principal is not None and organization_id and user_id:
        key = org_scoped(organization_id, "RL", "USER", user_id, route_cls)
        checks.append(("principal", key, scaled(limits.per_principal)))
    tightest: Decision | None = None
    for scope, key, limit in checks:
        try:
            decision = hit(key, limit, now=now)
        except LimiterUnavailable as error:
            return _on_failure(route_cls, error)
        if not decision.admitted:
            _violation(route_cls, scope, limit, decision)
        if tightest is None or decision.remaining < tightest.remaining:
            tightest = decision
    return tightest


def login_delay_seconds(failures: int) -> int:
    """The wait imposed after `failures` failed logins of one account in the window."""
    if failures < LOGIN_FREE_FAILURES:
        return 0
    delay = LOGIN_BASE_DELAY_SECONDS * 2 ** (failures - LOGIN_FREE_FAILURES)
    return int(min(LOGIN_MAX_DELAY_SECONDS, delay))


@dataclasses.dataclass
class LoginAttempt:
    """One login attempt admitted by `begin_login`: what to settle once the password is checked."""

    account: str  # keyed hash of the e-mail
    counted: list[str] = dataclasses.field(default_factory=list)  # counter items to give back
    slowdown_key: str | None = None  # the account's slow-down item (None: limiting is off)
    now: float = 0.0


def _window_key(key: str, window_seconds: int, now: float) -> str:
    return f"{key}#W{int(now) - int(now) % window_seconds}"


def _refund(keys: list[str]) -> None:
    for key in keys:
        try:
            RateLimitItem(key).update(
                actions=[RateLimitItem.hits.add(-1)], condition=RateLimitItem.hits > 0
            )
        except PynamoDBException as error:
            if not is_condition_failure(error):
                logger.warning("could not give back a login counter")


def _login_hit(attempt: LoginAttempt, key: str, limit: Limit, scope: str, **fields: str) -> None:
    decision = hit(key, limit, now=attempt.now)
    if decision.admitted:
        attempt.counted.append(_window_key(key, limit.window_seconds, attempt.now))
        return
    _refund(attempt.counted)  # a refused attempt is not a failure: nothing else counts it
    _violation(AUTH, scope, limit, decision, **fields)


def begin_login(
    email: str, *, ip: str | None, device_id: str | None, now: float | None = None
) -> LoginAttempt:
    """Admit a login attempt before its password is checked, or raise RateLimited (429).

    Known and unknown e-mails take the same path (the same DynamoDB calls), so neither the
    answer nor its timing tells which accounts exist.
    """
    now = time.time() if now is None else now
    account = email_hash(email)
    attempt = LoginAttempt(account=account, now=now)
    if not get_settings().rate_limit_enabled:
        return attempt
    try:
        if device_id is not None:
            # A recognised device: its own small budget replaces the IP and account limits, so
            # neither a stuffing neighbour on its address nor a guesser elsewhere keeps it out.
            key = f"ACCT#{account}#DEVICE#{device_id}#LOGINFAIL"
            _login_hit(attempt, key, LOGIN_DEVICE_FAILURES, "device", email_hash=account)
            return attempt
        _login_hit(attempt, f"IP#{ip or '-'}#LOGINFAIL", LOGIN_IP_FAILURES, "ip")
        key = f"ACCT#{account}#IP#{ip or '-'}#LOGINFAIL"
        _login_hit(attempt, key, LOGIN_ACCOUNT_IP_FAILURES, "account_ip", email_hash=account)
        attempt.slowdown_key = _window_key(
            f"ACCT#{account}#LOGINSLOW", LOGIN_SLOWDOWN_WINDOW_SECONDS, now
        )
        try:
            item: LoginSlowdownItem | None = LoginSlowdownItem.get(
                attempt.slowdown_key, consistent_read=True
            )
        except LoginSlowdownItem.DoesNotExist:
            item = None
    except LimiterUnavailable as error:
        _on_failure(AUTH, error)
        return attempt
    except PynamoDBException as error:
        _on_failure(AUTH, LimiterUnavailable(str(error)))
        return attempt
    if item is not None:
        wait_until = float(item.last_failure_at) + login_delay_seconds(int(item.failures))
        if now < wait_until:
            _refund(attempt.counted)
            count_metric(
                "RateLimitRejected",
                {"stage": get_settings().stage, "route_class": AUTH, "scope": "account"},
            )
            raise RateLimited(
                "Too many failed logins for this account; retry later.",
                headers={"Retry-After": str(max(1, math.ceil(wait_until - now)))},
            )
    return attempt


def record_login_failure(attempt: LoginAttempt) -> None:
    """A wrong e-mail or password: the counters keep it; the account's slow-down grows."""
    if attempt.slowdown_key is None:
        return
    expires = datetime.fromtimestamp(
        int(attempt.now) + LOGIN_SLOWDOWN_WINDOW_SECONDS + TTL_GRACE_SECONDS, tz=UTC
    )
    item = LoginSlowdownItem(attempt.slowdown_key)
    try:
        item.update(
            actions=[
                LoginSlowdownItem.failures.add(1),
                LoginSlowdownItem.last_failure_at.set(int(attempt.now)),
                LoginSlowdownItem.expires_at.set(expires),
            ]
        )
    except PynamoDBException:
        logger.error("could not record a failed login")
        return
    if int(item.failures) == LOGIN_FREE_FAILURES:
        emit(
            "security.rate_limit_violation",
            reason="login_slowdown",
            route_class=AUTH,
            scope="account",
            limit=LOGIN_FREE_FAILURES,
            window_seconds=LOGIN_SLOWDOWN_WINDOW_SECONDS,
            email_hash=attempt.account,
        )


def record_login_success(attempt: LoginAttempt) -> None:
    """A successful login never counts: give back its counters and end the account's slow-down."""
    _refund(attempt.counted)
    if attempt.slowdown_key is not None:
        try:
            LoginSlowdownItem(attempt.slowdown_key).delete()
        except PynamoDBException:
            logger.warning("could not reset a login slow-down")
