"""Tracing: every API request and every scan is an X-Ray subsegment with filterable annotations
(route, status, organization), through Powertools' Tracer; off the Lambda runtime it costs
nothing and never imports the X-Ray SDK."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from chalicelib.api import attachment_scanning
from chalicelib.core import observability, settings

ROOT = Path(__file__).resolve().parents[2]


class Segment(BaseSegment):
    def __init__(self, name: str) -> None:
        self.name = name
        self.annotations: dict[str, Any] = {}
        self.exceptions: list[BaseException] = []

    def close(self, end_time: int | None = None) -> None:
        return None

    def add_subsegment(self, subsegment: Any) -> None:
        return None

    def remove_subsegment(self, subsegment: Any) -> None:
        return None

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.exceptions.append(exception)


class Recorder(BaseProvider):
    """An X-Ray provider that keeps the subsegments it was asked for."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: Any = None, **kwargs: Any) -> Iterator[Segment]:
        segment = Segment(str(name))
        self.segments.append(segment)
        try:
            yield segment
        except BaseException as error:
            segment.add_exception(error, [])
            raise

    def in_subsegment_async(self, name: Any = None, **kwargs: Any) -> Any:
        raise NotImplementedError

    def put_annotation(self, key: str, value: Any) -> None:
        return None

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        return None

    def patch(self, modules: Any) -> None:
        return None

    def patch_all(self) -> None:
        return None


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    provider = Recorder()
    tracer = Tracer(service="deskguard", disabled=False, auto_patch=False, provider=provider)
    monkeypatch.setattr(observability, "tracer", lambda: tracer)
    with settings.override(tracing_enabled=True):
        yield provider
    Tracer._reset_config()  # Powertools shares Tracer config between instances


def test_each_request_is_a_subsegment_annotated_with_route_status_and_tenant(
    client: Any, make_org: Any, recorder: Recorder
) -> None:
    org = make_org()
    assert client.get("/api/tickets", token=org.agent.token).status == 200
    assert client.get("/api/tickets/not-an-id", token=org.agent.token).status in (400, 404)
    assert client.get("/api/admin/users", token=org.requester.token).status == 403
    listed, missing, forbidden = recorder.segments[-3:]
    assert listed.name == "## GET /api/tickets"
    assert listed.annotations == {
        "route": "/api/tickets",
        "method": "GET",
        "route_class": "default",
        "status": 200,
        "organization_id": org.id,
    }
    assert missing.name == "## GET /api/tickets/{ticket_id}"
    assert missing.annotations["status"] in (400, 404)
    assert forbidden.annotations["status"] == 403
    assert forbidden.annotations["organization_id"] == org.id


def test_unauthenticated_requests_are_traced_without_a_tenant(
    client: Any, recorder: Recorder
) -> None:
    assert client.get("/api/health").status == 200
    segment = recorder.segments[-1]
    assert segment.name == "## GET /api/health"
    assert segment.annotations["status"] == 200
    assert "organization_id" not in segment.annotations


def test_the_scanner_is_a_subsegment_annotated_with_its_outcome(
    recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.attachments.scanning import pipeline
    from chalicelib.attachments.scanning.pipeline import Outcome

    monkeypatch.setattr(
        pipeline,
        "process_s3_event",
        lambda objects, engine: [Outcome(action="scanned", status="CLEAN", attachment_id="a")],
    )
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": "uploads"}, "object": {"key": "org/t/a", "size": 3}},
    }
    assert attachment_scanning.scan_attachment(event, None)[0]["status"] == "CLEAN"
    assert recorder.segments[-1].name == "## scan_attachment"
    assert recorder.segments[-1].annotations == {"outcome": "CLEAN"}


def test_tracing_is_off_outside_lambda_and_never_loads_the_xray_sdk() -> None:
    assert not settings.load({"DESKGUARD_STAGE": "prod"}).tracing_enabled
    assert settings.load({"AWS_LAMBDA_FUNCTION_NAME": "api"}).tracing_enabled
    disabled = {"AWS_LAMBDA_FUNCTION_NAME": "api", "POWERTOOLS_TRACE_DISABLED": "true"}
    assert not settings.load(disabled).tracing_enabled
    script = (
        "import sys\n"
        "from chalicelib.core.observability import traced\n"
        "with traced('x') as annotate:\n"
        "    annotate(status=200)\n"
        "print('aws_xray_sdk' in sys.modules)\n"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"DESKGUARD_STAGE": "test", "PATH": ""},
        check=True,
    )
    assert result.stdout.strip() == "False"
