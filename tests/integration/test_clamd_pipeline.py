"""The resident clamd through the real scan handler: reused while warm, restarted after it died,
killed and replaced after it hung (the attachment is ERROR and retried, never CLEAN), and many
concurrent uploads each reaching a final status."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from chalicelib.attachments.models import AttachmentItem, attachment_sk
from chalicelib.attachments.scanning import definitions
from chalicelib.attachments.scanning.definitions import default_engine
from chalicelib.attachments.scanning.pipeline import ScanFailed, retry_due_scans
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import override
from tests.support.attachments import (
    deliver_created,
    path,
    post_to_s3,
    request_upload,
    upload_and_scan,
)
from tests.support.av import EICAR, SIGNATURE_NAME, pdf_bytes
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.usefixtures("scanner_settings")


def _daemon_pid() -> int:
    pid = definitions.resident_engine().pid
    assert pid is not None
    return pid


def _wait_gone(pid: int) -> None:
    """Wait until the process has exited (gone, or a zombie its parent has not reaped yet)."""
    stat = Path(f"/proc/{pid}/stat")
    for _ in range(100):
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in {"Z", "X"}:
            return
        time.sleep(0.05)
    raise AssertionError(f"process {pid} still running")


def test_warm_scans_reuse_the_daemon_and_a_dead_one_is_restarted(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    first = upload_and_scan(
        app, client, org.requester, ticket_id, "a.pdf", "application/pdf", pdf_bytes()
    )
    assert first["status"] == "CLEAN"
    pid = _daemon_pid()
    starts = definitions.resident_engine().starts
    second = upload_and_scan(
        app, client, org.requester, ticket_id, "b.pdf", "application/pdf", pdf_bytes("b")
    )
    assert second["status"] == "CLEAN"
    assert _daemon_pid() == pid  # warm: the same daemon answered

    os.kill(pid, signal.SIGKILL)  # dies between two invocations (OOM killer, crash)
    _wait_gone(pid)
    infected = upload_and_scan(app, client, org.requester, ticket_id, "c.txt", "text/plain", EICAR)
    assert infected["status"] == "INFECTED"
    assert infected["signature"].startswith(SIGNATURE_NAME)
    assert _daemon_pid() != pid
    assert definitions.resident_engine().starts == starts + 1


def test_a_hung_daemon_times_out_to_error_and_the_retry_scans_it(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    with override(scan_timeout_seconds=3):
        upload_and_scan(
            app, client, org.requester, ticket_id, "a.pdf", "application/pdf", pdf_bytes()
        )
        hung = _daemon_pid()
        os.kill(hung, signal.SIGSTOP)  # alive, socket open, never answers
        content = pdf_bytes("second")
        created = request_upload(
            client, org.requester, ticket_id, "b.pdf", "application/pdf", len(content)
        )
        assert post_to_s3(created.json["upload"], content) == 204
        started = time.monotonic()
        with pytest.raises(ScanFailed, match="timed out"):
            deliver_created(app, created.json["upload"]["fields"]["key"])
        assert time.monotonic() - started < 15
        aid = created.json["id"]
        fetched = client.get(path(ticket_id, aid), token=org.agent.token).json
        assert (fetched["status"], fetched["reason"]) == ("ERROR", "engine_error")
        download = client.get(path(ticket_id, aid, "/download"), token=org.agent.token)
        assert download.status == 409
        _wait_gone(hung)  # the engine killed the hung daemon

        record = AttachmentItem.get(org_pk(org.id), attachment_sk(ticket_id, aid))
        assert record.retry_queue == "SCAN_RETRY"
        past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        record.update(actions=[AttachmentItem.retry_at.set(past)])
        outcomes = retry_due_scans(default_engine)
        assert [(o.attachment_id, o.status) for o in outcomes] == [(aid, "CLEAN")]
        assert _daemon_pid() != hung


@pytest.fixture
def serialized_moto_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's in-memory TransactWriteItems is not thread-safe (it deep-copies the tables while
    other threads write them; DynamoDB itself is): serialize that one fake call. Everything
    else (the daemon, S3, the audit chain's contention and its retries) stays concurrent."""
    from moto.dynamodb.models import DynamoDBBackend

    original = DynamoDBBackend.transact_write_items
    lock = threading.Lock()

    def transact_write_items(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transact_write_items)


@pytest.mark.usefixtures("serialized_moto_transactions")
def test_twenty_concurrent_uploads_all_reach_a_final_status(
    app: Any, client: Any, make_org: Callable[..., TestOrg]
) -> None:
    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    uploads: list[tuple[str, str, str]] = []
    for index in range(20):
        infected = index % 4 == 0
        content = EICAR if infected else pdf_bytes(f"document {index}")
        name, kind = ("v.txt", "text/plain") if infected else (f"{index}.pdf", "application/pdf")
        created = request_upload(client, org.requester, ticket_id, name, kind, len(content))
        assert post_to_s3(created.json["upload"], content) == 204
        expected = "INFECTED" if infected else "CLEAN"
        uploads.append((created.json["id"], created.json["upload"]["fields"]["key"], expected))

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda upload: deliver_created(app, upload[1]), uploads))

    for aid, _key, expected in uploads:
        fetched = client.get(path(ticket_id, aid), token=org.agent.token).json
        assert fetched["status"] == expected, (aid, fetched["status"], fetched["reason"])
