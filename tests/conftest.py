"""The suite's environment, fixed before anything imports `chalicelib` (settings are read once),
and the suite-wide plugins.

The fixtures below are shared by every directory that drives the app in-process; none of them
starts moto. `tests/integration`, `tests/security` and `tests/deploy` switch on a fresh moto
account per test in their own `conftest.py`; `tests/unit` has no AWS at all; `tests/e2e` talks
to the local stack over HTTP.
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
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from chalice.app import Chalice  # noqa: E402

from tests.support.av import build_signature_db, clamd_work_dir  # noqa: E402
from tests.support.client import RecordingApiClient  # noqa: E402
from tests.support.clock import FakeClock  # noqa: E402
from tests.support.orgs import OrgFactory, TestOrg  # noqa: E402

# The log audit collects every log line of the run and checks it at the end; the AWS-call recorder
# records each call a Lambda function makes, for the IAM policy check in tests/deploy.
pytest_plugins = ["tests.support.logcheck", "tests.support.aws_calls"]


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Every test ends with the process environment it started with. chalice.test's clients
    swap `os.environ` for a patched copy during each invocation and put the old object back;
    invocations from several threads at once can leave a stage's variables (a deployed stage's
    secret id, for one) behind for every later test."""
    original, saved = os.environ, dict(os.environ)
    yield
    os.environ = original  # noqa: B003 (put back the object chalice.test swapped out)
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def app() -> Chalice:
    import app as app_module

    return app_module.app


@pytest.fixture
def client(app: Chalice) -> RecordingApiClient:
    """The in-process API client (chalice.test), recording secrets for the log audit."""
    return RecordingApiClient(app)


@pytest.fixture
def make_org(client: RecordingApiClient) -> Callable[..., TestOrg]:
    """Build an organization with an ADMIN, an AGENT and a REQUESTER, all logged in."""
    return OrgFactory(client)


@pytest.fixture
def log_mark() -> int:
    """Position in the run's collected log lines at the start of the test (see the log audit)."""
    from tests.support.logcheck import COLLECTOR  # imported by pytest as a plugin first

    return len(COLLECTOR.lines)


@pytest.fixture(scope="session")
def signature_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ClamAV definitions directory that detects the EICAR test file (built by `sigtool`)."""
    return build_signature_db(tmp_path_factory.mktemp("clamav-db"))


@pytest.fixture
def scanner_settings(signature_db: Path) -> Iterator[None]:
    """The scanner reads the test definitions from disk instead of the definitions bucket."""
    from chalicelib.core.settings import override

    with override(
        clamav_definitions_dir=str(signature_db),
        clamav_definitions_from_s3=False,
        clamd_work_dir=clamd_work_dir(),
    ):
        yield


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The rate limiter's clock, 1 s into a window that is a multiple of every window length in
    the limits table (so a test decides when a window ends)."""
    from chalicelib.ratelimit import limiter

    fake = FakeClock(1_800_000_000 - 1_800_000_000 % 3600 + 1)
    monkeypatch.setattr(limiter, "time", fake)
    return fake


@pytest.fixture
def token_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The one-time tokens' clock (issue, expiry check and consuming write), frozen at the
    current time until a test moves it."""
    import time

    from chalicelib.identity import one_time_tokens

    fake = FakeClock(time.time())
    monkeypatch.setattr(one_time_tokens, "time", fake)
    return fake


@pytest.fixture
def rate_limited() -> Iterator[None]:
    """Rate limiting switched on (it is off on the test stage), with fresh limiter state."""
    from chalicelib.core import settings
    from chalicelib.ratelimit import limiter as ratelimit

    ratelimit._failure_events.clear()
    with settings.override(rate_limit_enabled=True):
        yield
    ratelimit._failure_events.clear()
