"""In-process integration tests: each test runs in its own moto account (tables and buckets)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from chalice.app import Chalice

from chalicelib.core import settings
from chalicelib.core.settings import override
from tests.support.av import build_signature_db
from tests.support.aws import mocked_account
from tests.support.client import RecordingApiClient
from tests.support.logcheck import COLLECTOR
from tests.support.orgs import OrgFactory, TestOrg


@pytest.fixture(autouse=True)
def aws() -> Iterator[None]:
    """A fresh mocked AWS account per test, with every table and bucket created."""
    with mocked_account():
        yield


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
    return len(COLLECTOR.lines)


@pytest.fixture(scope="session")
def signature_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ClamAV definitions directory that detects the EICAR test file (built by `sigtool`)."""
    return build_signature_db(tmp_path_factory.mktemp("clamav-db"))


@pytest.fixture
def scanner_settings(signature_db: Path) -> Iterator[None]:
    """The scanner reads the test definitions from disk instead of the definitions bucket."""
    with override(clamav_definitions_dir=str(signature_db), clamav_definitions_from_s3=False):
        yield


@pytest.fixture
def rate_limited() -> Iterator[None]:
    """Rate limiting switched on (it is off on the test stage), with fresh limiter state."""
    from chalicelib.ratelimit import limiter as ratelimit

    ratelimit._failure_events.clear()
    with settings.override(rate_limit_enabled=True):
        yield
    ratelimit._failure_events.clear()
