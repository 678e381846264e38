"""Login throttling that an attacker cannot turn against the account's owner, and login answers
that do not tell accounts apart (status, body, DynamoDB calls, timing)."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterator
from typing import Any

import botocore.client
import pytest

from chalicelib.authz.principal import Role
from chalicelib.core.keyed import email_hash
from chalicelib.core.settings import load, override
from chalicelib.identity import users
from chalicelib.ratelimit import limiter as ratelimit
from chalicelib.ratelimit.models import LoginSlowdownItem
from tests.support.clock import FakeClock
from tests.support.logcheck import events_since

DEPLOYED_FLOOR_MS = load({"DESKGUARD_STAGE": "prod"}).login_failure_floor_ms


def _organization_of(email: str) -> str:
    """The organization a test address logs in to: the factory's addresses end in
    `@<org>.example`; `@nowhere.example` names an organization that does not exist."""
    return email.rsplit("@", 1)[1].removesuffix(".example")


def _account(email: str) -> str:
    """What the login limiter keys an attempt by: organization and e-mail."""
    return f"{_organization_of(email)}/{email}"


def _login(client: Any, email: str, password: str, ip: str, device: str | None = None) -> Any:
    headers = {"Cookie": device} if device else None
    return client.post(
        "/api/auth/login",
        json={"organization": _organization_of(email), "email": email, "password": password},
        source_ip=ip,
        headers=headers,
    )


def _device_cookie(response: Any) -> str:
    """`deskguard_device=<value>` from a login response's Set-Cookie headers."""
    for cookie in (response.header("Set-Cookie") or "").split(", "):
        if cookie.startswith("deskguard_device="):
            return cookie.split(";", 1)[0]
    raise AssertionError("no device cookie was set")


def _slowdown_failures(email: str, clock: FakeClock) -> int:
    window = ratelimit.LOGIN_SLOWDOWN_WINDOW_SECONDS
    key = (
        f"ACCT#{email_hash(_account(email))}#LOGINSLOW#W{int(clock.now) - int(clock.now) % window}"
    )
    try:
        return int(LoginSlowdownItem.get(key).failures)
    except LoginSlowdownItem.DoesNotExist:
        return 0


def _violations(mark: int) -> list[dict[str, Any]]:
    return [
        e
        for e in events_since(mark, "security.rate_limit_violation")
        if e.get("reason") in {"limit_exceeded", "login_slowdown"}
    ]


def test_successful_logins_never_count(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    user = org.agent
    ip = "203.0.113.20"
    # Far more logins than any login limit, one account, one address, one window.
    statuses = {_login(client, user.email, user.password, ip).status for _ in range(40)}
    assert statuses == {200}
    # The address still has its whole failure budget.
    failures = [
        _login(client, f"x{i}@nowhere.example", "wrong-password-1", ip).status
        for i in range(ratelimit.LOGIN_IP_FAILURES.requests)
    ]
    assert failures == [401] * ratelimit.LOGIN_IP_FAILURES.requests


def test_credential_stuffing_from_one_ip_is_throttled_and_reported_once(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock, log_mark: int
) -> None:
    org = make_org()
    ip = "203.0.113.21"
    limit = ratelimit.LOGIN_IP_FAILURES
    statuses = []
    for i in range(500):
        email = org.agent.email if i % 50 == 0 else f"victim-{i}@elsewhere.example"
        statuses.append(_login(client, email, "stuffed-password-1", ip).status)
    assert statuses == [401] * limit.requests + [429] * (500 - limit.requests)
    violations = _violations(log_mark)
    assert [(v["scope"], v["ip"]) for v in violations] == [("ip", ip)]
    # Another address is not affected; the next window starts afresh (and reports again).
    assert _login(client, org.agent.email, org.agent.password, "203.0.113.22").status == 200
    clock.now += limit.window_seconds
    more = [_login(client, f"again-{i}@e.example", "pw-wrong-123", ip).status for i in range(25)]
    assert more == [401] * limit.requests + [429] * 5
    assert len(_violations(log_mark)) == 2


def test_distributed_guessing_slows_down_but_never_locks_out_the_owner(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock, log_mark: int
) -> None:
    org = make_org()
    owner = org.admin
    # The owner logged in on their laptop before: that browser holds a device cookie.
    laptop = _device_cookie(_login(client, owner.email, owner.password, "192.0.2.10"))
    statuses = []
    for i in range(100):  # 100 wrong passwords from 20 addresses, 5 each, a second apart
        statuses.append(
            _login(client, owner.email, f"guess-{i:03d}-pw", f"198.51.100.{i % 20 + 1}").status
        )
        clock.now += 1
    assert set(statuses) == {401, 429}
    # Only attempts admitted by the slow-down were checked at all.
    guessed = statuses.count(401)
    assert ratelimit.LOGIN_FREE_FAILURES < guessed < 15
    # The owner with the device cookie logs in at once, from anywhere.
    assert _login(client, owner.email, owner.password, "192.0.2.10", laptop).status == 200
    # A new browser without one is slowed, not locked out: it waits Retry-After, then gets in.
    for _ in range(3):
        _login(client, owner.email, "still-guessing-1", "198.51.100.99")
    slowed = _login(client, owner.email, owner.password, "192.0.2.77")
    assert slowed.status == 429
    retry_after = int(slowed.header("Retry-After") or "0")
    assert 1 <= retry_after <= ratelimit.LOGIN_MAX_DELAY_SECONDS
    clock.now += retry_after
    assert _login(client, owner.email, owner.password, "192.0.2.77").status == 200
    # The slow-down was reported once, under the account's pseudonym.
    slowdowns = [v for v in _violations(log_mark) if v["reason"] == "login_slowdown"]
    assert [v["email_hash"] for v in slowdowns] == [email_hash(_account(owner.email))]


def test_device_cookie_is_bound_to_its_account_and_has_its_own_budget(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    owner, other = org.admin, org.agent
    laptop = _device_cookie(_login(client, owner.email, owner.password, "192.0.2.11"))
    for i in range(ratelimit.LOGIN_FREE_FAILURES + 3):
        _login(client, other.email, f"guess-{i}-password", f"198.51.100.{i + 1}")
    # The owner's device cookie does nothing for another account.
    assert _login(client, other.email, other.password, "192.0.2.11", laptop).status == 429
    # A forged or edited cookie is no device cookie either.
    assert _login(client, other.email, other.password, "192.0.2.11", laptop + "x").status == 429
    # Wrong passwords through the device cookie spend its own small budget, then it is refused.
    budget = ratelimit.LOGIN_DEVICE_FAILURES.requests
    statuses = [
        _login(client, owner.email, f"wrong-{i}-password", "192.0.2.11", laptop).status
        for i in range(budget + 1)
    ]
    assert statuses == [401] * budget + [429]


def test_unknown_and_known_accounts_are_throttled_alike(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    answers = []
    for email in (org.requester.email, "no-such-user@nowhere.example"):
        statuses = [
            _login(client, email, "wrong-password-1", f"192.0.2.{i + 1}").status
            for i in range(ratelimit.LOGIN_FREE_FAILURES + 1)
        ]
        answers.append(statuses)
    assert answers[0] == answers[1] == [401] * ratelimit.LOGIN_FREE_FAILURES + [429]
    # The slow-down state is keyed by the e-mail's pseudonym, known account or not.
    for email in (org.requester.email, "no-such-user@nowhere.example"):
        assert _slowdown_failures(email, clock) == ratelimit.LOGIN_FREE_FAILURES


def test_success_ends_the_slow_down(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    user = org.agent
    for i in range(ratelimit.LOGIN_FREE_FAILURES):
        assert _login(client, user.email, "wrong-password-1", f"192.0.2.{i + 1}").status == 401
    clock.now += ratelimit.login_delay_seconds(ratelimit.LOGIN_FREE_FAILURES)
    assert _login(client, user.email, user.password, "192.0.2.50").status == 200
    assert _slowdown_failures(user.email, clock) == 0
    assert _login(client, user.email, "wrong-password-1", "192.0.2.51").status == 401


def test_delay_doubles_up_to_its_cap() -> None:
    free = ratelimit.LOGIN_FREE_FAILURES
    delays = [ratelimit.login_delay_seconds(n) for n in range(free + 12)]
    assert delays[:free] == [0] * free
    assert delays[free : free + 4] == [1, 2, 4, 8]
    assert max(delays) == ratelimit.LOGIN_MAX_DELAY_SECONDS


# --- Wrong password and unknown e-mail look the same --------------------------------------


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str]]]:
    """Every DynamoDB operation made (operation, table), in order."""
    calls: list[tuple[str, str]] = []
    real = botocore.client.BaseClient._make_api_call

    def recording(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append((operation, str(params.get("TableName", ""))))
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield calls


def test_both_failures_make_the_same_dynamodb_calls(
    client: Any, make_org: Any, rate_limited: None, dynamodb_calls: list[tuple[str, str]]
) -> None:
    org = make_org()
    _login(client, "warm-up@nowhere.example", "wrong-password-1", "192.0.2.1")
    del dynamodb_calls[:]
    wrong = _login(client, org.agent.email, "wrong-password-1", "192.0.2.2")
    real_account = list(dynamodb_calls)
    del dynamodb_calls[:]
    unknown = _login(client, "nobody@nowhere.example", "wrong-password-1", "192.0.2.3")
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    assert real_account == dynamodb_calls
    assert len(real_account) >= 5  # counters, claim, user, slow-down: all on both paths


def test_an_unknown_organization_makes_the_same_dynamodb_calls_as_a_wrong_password(
    client: Any, make_org: Any, rate_limited: None, dynamodb_calls: list[tuple[str, str]]
) -> None:
    org, other = make_org(), make_org()
    _login(client, "warm-up@nowhere.example", "wrong-password-1", "192.0.2.1")
    del dynamodb_calls[:]
    wrong = _login(client, org.agent.email, "wrong-password-1", "192.0.2.2")
    wrong_password = list(dynamodb_calls)
    answers = []
    # The right password, sent to an organization that does not exist / that is not the user's.
    for organization in ("no-such-org", other.id):
        del dynamodb_calls[:]
        body = org.agent.login_body(organization=organization)
        response = client.post("/api/auth/login", json=body, source_ip="192.0.2.3")
        answers.append((response.status, response.body, list(dynamodb_calls)))
    for status, body, calls in answers:
        assert (status, body) == (wrong.status, wrong.body) == (401, wrong.body)
        assert calls == wrong_password


def _mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-averaged ranks)."""
    pooled = sorted((value, group) for group, values in enumerate((a, b)) for value in values)
    ranks: list[float] = [0.0] * len(pooled)
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    rank_sum = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = rank_sum - n1 * (n1 + 1) / 2
    z = (u - n1 * n2 / 2) / math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return math.erfc(abs(z) / math.sqrt(2))


def test_mann_whitney_detects_a_shift() -> None:
    assert _mann_whitney_p([float(x) for x in range(30)], [x + 20.0 for x in range(30)]) < 1e-4
    assert _mann_whitney_p([float(x) for x in range(30)], [x + 0.5 for x in range(30)]) > 0.5


def test_login_timing_does_not_tell_accounts_apart(
    client: Any, make_org: Any, rate_limited: None
) -> None:
    """With the failure floor deployed stages use (30 + 30 samples take about 30 s)."""
    org = make_org()
    samples = 30
    accounts = [
        users.create_user(
            org.id,
            email=f"timing-{i}@{org.id}.example",
            name="Timing",
            role=Role.REQUESTER,
            password="right-password-1",  # pragma: allowlist secret
        ).email
        for i in range(samples)
    ]
    _login(client, "warm-up@nowhere.example", "wrong-password-1", "192.0.2.250")

    def timed(email: str, ip: str) -> float:
        start = time.perf_counter()
        response = _login(client, email, "wrong-password-1", ip)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status == 401
        return elapsed

    real: list[float] = []
    unknown: list[float] = []
    with override(login_failure_floor_ms=DEPLOYED_FLOOR_MS):
        for i in range(samples):  # interleaved, each from its own address
            real.append(timed(accounts[i], f"198.18.0.{i + 1}"))
            unknown.append(timed(f"ghost-{i}@nowhere.example", f"198.18.1.{i + 1}"))
    p_value = _mann_whitney_p(real, unknown)
    difference = statistics.median(real) - statistics.median(unknown)
    # Fail on a difference that is both significant and larger than a few milliseconds.
    assert not (p_value < 0.01 and abs(difference) > 3.0), (
        f"median difference {difference:.1f} ms, Mann-Whitney p={p_value:.2g}"
    )
