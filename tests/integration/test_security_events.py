"""emit(): context fields, allowlist, keyed e-mail hash, EMF metric; the ops queries select what
they claim over real event lines; the CLI runs them through the Logs API (moto)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
import pytest

from chalicelib.core import settings
from chalicelib.core.keyed import email_hash
from chalicelib.core.observability import RequestContext, reset_context, set_context
from chalicelib.security_events import CATEGORIES, emit
from chalicelib.security_events.events import REQUIRED_FIELDS
from cli import security_events as events_cli
from cli.main import main as cli_main
from infra import security_ops as ops
from tests.support import insights
from tests.support.logcheck import events_since


@pytest.fixture
def request_context() -> Any:
    token = set_context(
        RequestContext(
            request_id="req-1",
            route="/api/tickets/{id}/comments",
            route_class="comment_create",
            method="POST",
            ip="198.51.100.9",
            user_agent="curl/8",
            user_id="u-1",
            organization_id="acme",
        )
    )
    yield
    reset_context(token)


def test_every_category_carries_the_context(request_context: None, log_mark: int) -> None:
    for category in sorted(CATEGORIES):
        emit(category, reason="r")
    events = events_since(log_mark)
    assert sorted(e["category"] for e in events) == sorted(CATEGORIES)
    for event in events:
        assert set(REQUIRED_FIELDS) <= set(event)
        assert event["request_id"] == "req-1"
        assert event["user_id"] == "u-1"
        assert event["organization_id"] == "acme"
        assert event["route"] == "/api/tickets/{id}/comments"
        assert event["route_class"] == "comment_create"
        assert event["ip"] == "198.51.100.9"
        assert event["user_agent"] == "curl/8"


def test_allowlist_drops_everything_else(request_context: None, log_mark: int) -> None:
    record = emit(
        "security.failed_login",
        reason="bad_credentials",
        password="hunter2-hunter2",
        token="eyJhbGciOi.secret.value",
        cookie="deskguard_session=abc",
        body="# Markdown body",
        details={"nested": "object"},
        count=3,
        target_id="target-" * 80,  # 560 characters
    )
    line = json.dumps(events_since(log_mark)[0])
    for leaked in ("hunter2", "eyJhbGciOi", "deskguard_session", "Markdown", "nested"):
        assert leaked not in line
    assert record["count"] == 3
    assert len(record["target_id"]) == 200
    assert "password" not in record and "details" not in record


def test_email_becomes_a_keyed_hash(request_context: None, log_mark: int) -> None:
    emit("security.failed_login", email="  Alice@Example.COM ")
    event = events_since(log_mark)[0]
    assert "email" not in event
    assert event["email_hash"] == email_hash("alice@example.com")
    assert "alice" not in json.dumps(event).lower()
    with settings.override(security_hmac_key="another-key"):
        assert email_hash("alice@example.com") != event["email_hash"]


def test_context_is_null_outside_a_request(log_mark: int) -> None:
    emit("security.token_lifecycle", action="rotate")
    event = events_since(log_mark)[0]
    assert {name: event[name] for name in ("request_id", "user_id", "ip")} == {
        "request_id": None,
        "user_id": None,
        "ip": None,
    }


def test_unknown_category_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown"):
        emit("security.made_up")


def test_emf_metric_per_event(request_context: None, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    emit("security.rate_limit_violation", route_class="bulk")
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(blobs) == 1
    blob = blobs[0]
    directive = blob["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Deskguard"
    assert directive["Dimensions"] == [["stage", "category", "route_class"]]
    assert directive["Metrics"] == [{"Name": "SecurityEvent", "Unit": "Count"}]
    assert blob["stage"] == "test"
    assert blob["category"] == "security.rate_limit_violation"
    assert blob["route_class"] == "bulk"
    assert blob["SecurityEvent"] == [1.0]


def test_importing_the_app_keeps_security_events_audible() -> None:
    """Chalice must not reconfigure the service logger (it set it to ERROR)."""
    import app  # noqa: F401

    assert logging.getLogger("deskguard").getEffectiveLevel() <= logging.WARNING


# --- queries ----------------------------------------------------------------------------------


def _sample_events(make_org: Any, client: Any, mark: int) -> list[dict[str, Any]]:
    """Real event lines: failed logins from two IPs, an authorization failure, etc."""
    org = make_org()
    for ip in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
        client.post(
            "/api/auth/login",
            json=org.agent.login_body(password="wrong-password-1"),
            source_ip=ip,
        )
    client.get("/api/admin/audit", token=org.requester.token)
    return events_since(mark)


def test_category_query_selects_one_category(client: Any, make_org: Any, log_mark: int) -> None:
    events = _sample_events(make_org, client, log_mark)
    rows = insights.run(ops.category_query("security.failed_login"), events)
    assert len(rows) == 3
    assert {r["category"] for r in rows} == {"security.failed_login"}
    org_id = next(e["organization_id"] for e in events if e["organization_id"])
    rows = insights.run(ops.category_query("security.authorization_failure", org_id), events)
    assert len(rows) == 1 and rows[0]["organization_id"] == org_id
    assert insights.run(ops.category_query("security.failed_login", "other-org"), events) == []


def test_saved_queries_select_their_category(client: Any, make_org: Any, log_mark: int) -> None:
    events = _sample_events(make_org, client, log_mark)
    queries = {q.name: q.query for q in ops.SAVED_QUERIES}
    by_ip = insights.run(queries["failed-logins-by-ip"], events)
    assert sorted((r["ip"], r["failures"], r["accounts"]) for r in by_ip) == [
        ("203.0.113.1", 2, 1),
        ("203.0.113.2", 1, 1),
    ]
    by_user = insights.run(queries["authorization-failures-by-user"], events)
    assert [r["reason"] for r in by_user] == ["FORBIDDEN"]
    for name, category in (
        ("rate-limit-violations-by-route", "security.rate_limit_violation"),
        ("malware-detections", "security.malware_detected"),
        ("suspicious-activity", "security.suspicious_activity"),
    ):
        extra = emit(category, reason="sample")
        rows = insights.run(queries[name], [*events, extra])
        assert len(rows) == 1, name


@pytest.mark.parametrize(
    "value", ['acme" or category = "x', "acme | stats count(*)", "a\nb", "", "x" * 200]
)
def test_query_values_cannot_inject(value: str) -> None:
    with pytest.raises(ValueError):
        ops.category_query("security.failed_login", value)


def test_metric_filters_match_exactly_their_category() -> None:
    filters = ops.metric_filters()["Resources"]
    assert len(filters) == len(CATEGORIES)
    for category in CATEGORIES:
        matching = [
            name
            for name, resource in filters.items()
            if insights.metric_filter_matches(
                resource["Properties"]["FilterPattern"], {"category": category}
            )
        ]
        assert len(matching) == 1, category


def test_alarms_and_dashboard_cover_categories_and_route_classes() -> None:
    from chalicelib.ratelimit import limiter as ratelimit

    alarms = ops.alarms()["Resources"].values()
    assert {a["Properties"]["AlarmDescription"].split(":")[0] for a in alarms} == CATEGORIES
    body = ops.dashboard()["Resources"]["SecurityDashboard"]["Properties"]["DashboardBody"]
    widgets = json.loads(body["Fn::Sub"])["widgets"]
    titles = " ".join(w["properties"]["title"] for w in widgets)
    for route_cls in ratelimit.LIMITS:
        assert f"429s: {route_cls} " in titles


# --- CLI over the Logs API (moto) ---------------------------------------------------------------


def test_cli_query_runs_through_logs_insights(
    client: Any, make_org: Any, log_mark: int, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _sample_events(make_org, client, log_mark)
    logs = boto3.client("logs", region_name=settings.get_settings().region)
    group = "/aws/lambda/deskguard-test"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    now_ms = int(time.time() * 1000)
    failed = [e for e in events if e["category"] == "security.failed_login"]
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[
            {"timestamp": now_ms - 1000 + i, "message": json.dumps(e)} for i, e in enumerate(failed)
        ],
    )
    sent: list[dict[str, Any]] = []
    original = boto3.client

    def spying_client(*args: Any, **kwargs: Any) -> Any:
        made = original(*args, **kwargs)
        made.meta.events.register(
            "provide-client-params.logs.StartQuery", lambda params, **_: sent.append(params)
        )
        return made

    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3, "client", spying_client)
        code = cli_main(
            ["security-events", "query", "--category", "security.failed_login", "--since", "1h"]
        )
    assert code == 0
    assert sent[0]["logGroupName"] == group
    assert sent[0]["queryString"] == ops.category_query("security.failed_login")
    assert sent[0]["endTime"] - sent[0]["startTime"] == 3600
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) == len(failed) == 3
    assert {json.loads(r["@message"])["category"] for r in rows} == {"security.failed_login"}


def test_cli_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["security-events", "query", "--category", "security.nope"]) == 2
    assert capsys.readouterr().err == "error: unknown category: security.nope\n"
    query = ["security-events", "query", "--category", "security.failed_login"]
    assert cli_main([*query, "--org", "a b"]) == 2
    assert capsys.readouterr().err == "error: unsafe query value: 'a b'\n"
    with pytest.raises(SystemExit) as done:
        cli_main(["security-events", "query", "--category", "x", "--since", "soon"])
    assert done.value.code == 2
    assert events_cli.parse_since("15m") == 900 and events_cli.parse_since("7d") == 604800


def test_a_query_that_fails_is_one_sentence() -> None:
    class FailingLogs:
        def start_query(self, **_: Any) -> dict[str, str]:
            return {"queryId": "q-1"}

        def get_query_results(self, queryId: str) -> dict[str, Any]:  # noqa: N803 (boto3 name)
            return {"status": "Failed"}

    with pytest.raises(ops.InsightsQueryError, match="ended with status Failed"):
        ops.run_insights_query(FailingLogs(), "/aws/lambda/x", "fields @message", 60)
