"""Rate limiting through the API: login floods, per-account lockout, headers, failure policy."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from chalicelib.core import route_classes
from chalicelib.core.settings import get_settings, load
from chalicelib.ratelimit import limiter as ratelimit
from tests.support.clock import FakeClock
from tests.support.logcheck import events_since

# Login limits count failures only; their own tests are tests/security/test_login_throttling.py.
AUTH_IP = ratelimit.LOGIN_IP_FAILURES


def _login(client: Any, email: str, password: str, ip: str) -> Any:
    organization = email.rsplit("@", 1)[1].removesuffix(".example")  # `@<org>.example`
    body = {"organization": organization, "email": email, "password": password}
    return client.post("/api/auth/login", json=body, source_ip=ip)


def _violations(mark: int) -> list[dict[str, Any]]:
    return [
        event
        for event in events_since(mark, "security.rate_limit_violation")
        if event.get("reason") == "limit_exceeded"
    ]


def test_headers_on_admitted_requests(
    client: Any, make_org: Any, rate_limited: None, clock: FakeClock
) -> None:
    org = make_org()
    default = ratelimit.LIMITS[route_classes.DEFAULT]
    assert default.per_principal is not None
    response = client.get("/api/me", token=org.agent.token)
    assert response.status == 200
    # The tightest of per-IP and per-principal is reported.
    assert response.header("RateLimit-Limit") == str(default.per_principal.requests)
    assert response.header("RateLimit-Remaining") == str(default.per_principal.requests - 1)
    reset = int(response.header("RateLimit-Reset") or "0")
    assert 1 <= reset <= default.per_principal.window_seconds
    assert response.header("Retry-After") is None


def test_principal_limit_is_per_principal(
    client: Any, make_org: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    small = ratelimit.RouteClassLimits(
        "test", None, ratelimit.Limit(3, 60), ratelimit.FailureMode.OPEN
    )
    monkeypatch.setitem(ratelimit.LIMITS, route_classes.DEFAULT, small)
    from chalicelib.core import settings

    with settings.override(rate_limit_enabled=True):
        agent = [client.get("/api/me", token=org.agent.token).status for _ in range(5)]
        admin = client.get("/api/me", token=org.admin.token).status
    assert agent == [200, 200, 200, 429, 429]
    assert admin == 200


def test_scale_raises_every_budget(
    client: Any, make_org: Any, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    org = make_org()
    small = ratelimit.RouteClassLimits(
        "test", ratelimit.Limit(100, 60), ratelimit.Limit(2, 60), ratelimit.FailureMode.OPEN
    )
    monkeypatch.setitem(ratelimit.LIMITS, route_classes.DEFAULT, small)
    from chalicelib.core import settings

    with settings.override(rate_limit_enabled=True, rate_limit_scale=2.5):
        statuses = [client.get("/api/me", token=org.agent.token) for _ in range(6)]
    assert [r.status for r in statuses] == [200, 200, 200, 200, 200, 429]
    assert statuses[0].header("RateLimit-Limit") == "5"  # 2 x 2.5
    assert statuses[-1].json["error"]["code"] == "RATE_LIMITED"
    with pytest.raises(ValueError, match="RATE_LIMIT_SCALE"):
        load({"RATE_LIMIT_SCALE": "0"})


def test_stale_window_item_is_ignored(client: Any, rate_limited: None, clock: FakeClock) -> None:
    ip = "203.0.113.9"
    window = AUTH_IP.window_seconds
    previous = int(clock.now) - int(clock.now) % window - window
    # A full counter of the previous window that TTL has not deleted yet.
    ratelimit.RateLimitItem(
        f"IP#{ip}#LOGINFAIL#W{previous}",
        hits=AUTH_IP.requests + 1,
        expires_at=datetime.fromtimestamp(previous + window + 60, tz=UTC),
    ).save()
    assert _login(client, "x-stale@nowhere.example", "wrong-password-1", ip).status == 401
    current = ratelimit.RateLimitItem.get(
        f"IP#{ip}#LOGINFAIL#W{int(clock.now) - int(clock.now) % window}"
    )
    assert int(current.hits) == 1
    # Its TTL is the window's end plus the grace period.
    expected_expiry = previous + 2 * window + ratelimit.TTL_GRACE_SECONDS
    assert math.isclose(current.expires_at.timestamp(), expected_expiry)


def test_counter_table_has_ttl_enabled(client: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=get_settings().region)
    ttl = dynamodb.describe_time_to_live(TableName=get_settings().table_name("ratelimit"))
    description = ttl["TimeToLiveDescription"]
    assert description["TimeToLiveStatus"] == "ENABLED"
    assert description["AttributeName"] == "expires_at"


def test_limiter_failure_policy(
    client: Any, make_org: Any, rate_limited: None, log_mark: int
) -> None:
    org = make_org()
    ratelimit.RateLimitItem.delete_table()  # DynamoDB "fails" for the limiter only
    # auth fails closed: a short Retry-After, no credential check.
    for _ in range(3):
        response = _login(client, org.requester.email, org.requester.password, "203.0.113.10")
        assert response.status == 429
        assert response.header("Retry-After") == str(ratelimit.FAILURE_RETRY_AFTER_SECONDS)
    # Everything else fails open.
    for _ in range(3):
        assert client.get("/api/me", token=org.agent.token).status == 200
    outages = [
        (e["decision"], e["route_class"])
        for e in events_since(log_mark, "security.rate_limit_violation")
        if e.get("reason") == "limiter_unavailable"
    ]
    # One event per class per minute and process, not one per request.
    assert sorted(outages) == [("fail_closed", "auth"), ("fail_open", "default")]


def test_disabled_by_default_only_on_the_test_stage() -> None:
    assert load({"DESKGUARD_STAGE": "test"}).rate_limit_enabled is False
    assert load({"DESKGUARD_STAGE": "local"}).rate_limit_enabled is True
    assert not load({"DESKGUARD_STAGE": "local", "RATE_LIMIT_ENABLED": "0"}).rate_limit_enabled
    assert load({"DESKGUARD_STAGE": "prod"}).rate_limit_enabled is True
    assert load({"DESKGUARD_STAGE": "dev"}).rate_limit_enabled is True
    assert load({"DESKGUARD_STAGE": "local", "RATE_LIMIT_ENABLED": "true"}).rate_limit_enabled
    assert not load({"DESKGUARD_STAGE": "prod", "RATE_LIMIT_ENABLED": "false"}).rate_limit_enabled


def test_off_means_no_counting(client: Any, make_org: Any) -> None:
    org = make_org()
    statuses = {
        _login(client, org.requester.email, "wrong-password-1", "203.0.113.11").status
        for _ in range(AUTH_IP.requests + 2)
    }
    assert statuses == {401}
