"""Scan results as events, and the local stack's event plumbing.

Every final verdict is put on the scan-events bus (`Attachment Scanned`) with ids, status,
signature and definitions version, never the filename or content; the local stack records them.
The local retry sweep invokes the scheduled function with EventBridge's real scheduled-event
shape (Chalice's event class reads `version`, `account`, `region`... and raised KeyError on the
bare `{"detail-type": ...}` the sweep used to send).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.attachments.models import AttachmentItem, attachment_sk
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import override
from devstack.clamav import scanning_problem
from devstack.resources import create_event_recorder
from devstack.s3_events import S3EventPump, scheduled_event
from tests.support.attachments import post_to_s3, request_upload, upload_and_scan
from tests.support.av import EICAR, EXE_BYTES, SIGNATURE_NAME, pdf_bytes
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.usefixtures("scanner_settings")


def test_every_final_verdict_is_an_event_without_filename_or_content(
    app: Any, client: Any, make_org: Callable[..., TestOrg], tmp_path: Path
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    log = tmp_path / "scan-events.jsonl"
    with override(scan_events_bus="deskguard-test-events"):
        recorder = create_event_recorder(log)
        clean = upload_and_scan(
            app, client, org.requester, ticket_id, "Secret plan.pdf", "application/pdf", pdf_bytes()
        )
        infected = upload_and_scan(
            app, client, org.requester, ticket_id, "virus-note.txt", "text/plain", EICAR
        )
        rejected = upload_and_scan(
            app, client, org.requester, ticket_id, "cat.png", "image/png", EXE_BYTES
        )
        assert recorder.drain() == 3
    events = [json.loads(line) for line in log.read_text().splitlines()]
    by_id = {event["detail"]["attachmentId"]: event for event in events}
    assert set(by_id) == {clean["id"], infected["id"], rejected["id"]}
    for event in events:
        assert event["source"] == "deskguard.attachments"
        assert event["detail-type"] == "Attachment Scanned"
        assert event["detail"]["organizationId"] == org.id
        assert event["detail"]["ticketId"] == ticket_id
        raw = json.dumps(event)
        for secret in ("Secret plan", "virus-note", "cat.png", "EICAR-STANDARD", "Hello from"):
            assert secret not in raw
    assert by_id[clean["id"]]["detail"]["status"] == "CLEAN"
    assert by_id[clean["id"]]["detail"]["definitionsVersion"].startswith("local-")
    assert by_id[infected["id"]]["detail"]["status"] == "INFECTED"
    assert by_id[infected["id"]]["detail"]["signature"].startswith(SIGNATURE_NAME)
    assert by_id[rejected["id"]]["detail"]["status"] == "REJECTED"
    assert by_id[rejected["id"]]["detail"]["reason"] == "type"


def test_local_retry_sweep_uses_the_real_scheduled_event(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    content = pdf_bytes()
    created = request_upload(
        client, org.requester, ticket_id, "a.pdf", "application/pdf", len(content)
    )
    post_to_s3(created.json["upload"], content)  # its ObjectCreated event never arrived
    aid = created.json["id"]
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    record.update(actions=[AttachmentItem.retry_at.set(past)])

    handler = app.handler_map["retry_attachment_scans"]
    with pytest.raises(KeyError):  # what the local sweep sent before: Chalice cannot read it
        handler({"detail-type": "Scheduled Event"}, None)
    event = scheduled_event("deskguard-local-retry_attachment_scans", "us-east-1")
    assert {"version", "account", "region", "detail", "time", "id", "resources"} <= set(event)

    pump = S3EventPump(app, threading.Event())
    assert pump.sweep() is True
    record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
    assert record.status == "CLEAN"


def test_local_stack_says_when_scanning_is_off(tmp_path: Path) -> None:
    assert scanning_problem() is None
    with override(clamd_command=(str(tmp_path / "no-clamd"),)):
        problem = scanning_problem()
    assert problem is not None and "clamav-daemon" in problem and "ERROR" in problem
    with override(clamav_definitions_dir=str(tmp_path / "empty")):
        assert "no ClamAV definitions" in str(scanning_problem())
