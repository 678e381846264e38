"""Test environment: fixed before anything imports `chalicelib` (settings are read once).

Every test runs inside its own moto account (`mock_aws`), with fresh tables and buckets.
"""

from __future__ import annotations

import os

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
        "POWERTOOLS_DEV": "false",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "JWT_SIGNING_KEY_SECRET_ID"):
    os.environ.pop(_name, None)

from collections.abc import Callable, Iterator  # noqa: E402

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.factories import OrgFactory, TestOrg  # noqa: E402

# Suite-wide log audit (issue 6): collects every log line of the run and checks it at the end.
from tests.logcheck import (  # noqa: E402, F401
    pytest_configure,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)

# Deploy (issue 7): records the AWS calls each Lambda function makes, for the IAM policy check.
pytest_plugins = ["tests.deploy.aws_calls"]


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    """A fresh mocked AWS account per test, with every table and bucket created."""
    with mock_aws():
        from chalicelib.tables import create_tables
        from devstack.resources import create_buckets

        create_tables()
        create_buckets()
        yield


@pytest.fixture
def app():  # type: ignore[no-untyped-def]
    import app as app_module

    return app_module.app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from tests.logcheck_client import RecordingApiClient

    return RecordingApiClient(app)


@pytest.fixture
def make_org(client) -> Callable[..., TestOrg]:  # type: ignore[no-untyped-def]
    """Build an organization with an ADMIN, an AGENT and a REQUESTER, all logged in."""
    return OrgFactory(client)


@pytest.fixture
def rate_limited() -> Iterator[None]:
    """Rate limiting switched on (it is off on the test stage), with fresh limiter state."""
    from chalicelib.core import settings
    from chalicelib.ratelimit import limiter as ratelimit

    ratelimit._failure_events.clear()
    with settings.override(rate_limit_enabled=True):
        yield
    ratelimit._failure_events.clear()


@pytest.fixture
def log_mark() -> int:
    """Position in the run's collected log lines at the start of the test (see tests/logcheck)."""
    from tests.logcheck import COLLECTOR

    return len(COLLECTOR.lines)
