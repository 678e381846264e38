"""Deployment checks: templates, packages, policies and stage tools, against a moto account per test
(stage tools write secrets; the IAM check drives the app)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from chalice.app import Chalice

from tests.support.aws import mocked_account
from tests.support.client import RecordingApiClient
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
