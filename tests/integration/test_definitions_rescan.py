"""Definitions refresh and rescan, end to end: freshclam pulls a private mirror's databases into
the definitions bucket (manifest + version), the scanner's resident clamd reloads them, and the
retry sweep rescans CLEAN attachments judged by the older set within the window; the one a new
signature matches is quarantined exactly like on its first scan."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.attachments.models import AttachmentItem, attachment_sk, clean_day
from chalicelib.attachments.scanning import definitions
from chalicelib.core.org_keys import org_pk
from chalicelib.core.settings import get_settings, override
from devstack.s3_events import scheduled_event
from tests.support.attachments import path, upload_and_scan
from tests.support.av import EICAR, clamd_work_dir, pdf_bytes, sigtool_md5_line
from tests.support.events import security_events
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

pytestmark = pytest.mark.skipif(
    shutil.which("freshclam") is None or shutil.which("clamd") is None,
    reason="freshclam/clamd not installed (make test installs them)",
)
NEW_THREAT = "Deskguard.Test.NewThreat"


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A private mirror: an HTTP server for a directory of database files."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", www
    server.shutdown()
    server.server_close()


@pytest.fixture
def from_the_bucket(mirror: tuple[str, Path], tmp_path: Path) -> Iterator[None]:
    url, _ = mirror
    with override(
        clamav_definitions_from_s3=True,
        clamav_definitions_dir=str(tmp_path / "lambda-tmp" / "definitions"),
        clamd_work_dir=clamd_work_dir(),
        clamav_private_mirrors=(url,),
        clamav_official_databases=False,
        clamav_custom_database_urls=(f"{url}/eicar.hdb", f"{url}/deskguard.hdb"),
        definitions_sync_interval_seconds=0,
    ):
        definitions.stop_resident_engine()
        yield
        definitions.stop_resident_engine()


def _record(org_id: str, ticket_id: str, aid: str) -> AttachmentItem:
    return AttachmentItem.get(org_pk(org_id), attachment_sk(ticket_id, aid))


@pytest.mark.usefixtures("from_the_bucket")
def test_new_signature_quarantines_a_file_passed_by_older_definitions(  # noqa: PLR0917
    app: Any,
    client: Any,
    make_org: Callable[..., TestOrg],
    mirror: tuple[str, Path],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, www = mirror
    work = tmp_path / "sigs"
    (www / "eicar.hdb").write_text(sigtool_md5_line(EICAR, "Deskguard.Test.EICAR", work))
    (www / "deskguard.hdb").write_text(sigtool_md5_line(b"nothing real", "Placeholder", work))
    first = definitions.refresh_definitions()
    assert sorted(first["updated"]) == ["deskguard.hdb", "eicar.hdb"]

    org = make_org()
    ticket_id = create_ticket(client, org.requester)["id"]
    threat, other, old = pdf_bytes("new threat"), pdf_bytes("harmless"), pdf_bytes("old")
    results = {
        name: upload_and_scan(
            app, client, org.requester, ticket_id, f"{name}.pdf", "application/pdf", content
        )
        for name, content in (("threat", threat), ("other", other), ("old", old))
    }
    assert {r["status"] for r in results.values()} == {"CLEAN"}
    for result in results.values():
        assert _record(org.id, ticket_id, result["id"]).definitions_version == first["version"]
    # Passed long before the window: not rescanned even though the new signature matches it.
    window = get_settings().definitions_rescan_window_hours
    long_ago = datetime.now(UTC) - timedelta(hours=window + 24)
    _record(org.id, ticket_id, results["old"]["id"]).update(
        actions=[
            AttachmentItem.clean_day.set(clean_day(long_ago)),
            AttachmentItem.clean_at.set(long_ago.isoformat()),
        ]
    )
    engine = definitions.resident_engine()
    starts = engine.starts

    time.sleep(1.1)  # the mirror's file must be newer than the published copy (whole seconds)
    (www / "deskguard.hdb").write_text(
        sigtool_md5_line(threat, NEW_THREAT, work) + sigtool_md5_line(old, NEW_THREAT, work)
    )
    second = definitions.refresh_definitions()
    assert second["updated"] == ["deskguard.hdb"] and second["version"] != first["version"]

    handler = app.handler_map["retry_attachment_scans"]
    outcomes = handler(scheduled_event("retry_attachment_scans", "us-east-1"), None)
    by_id = {o["attachmentId"]: o for o in outcomes}
    assert by_id[results["threat"]["id"]] == {
        "action": "rescanned",
        "status": "INFECTED",
        "attachmentId": results["threat"]["id"],
    }
    assert by_id[results["other"]["id"]]["status"] == "CLEAN"
    assert results["old"]["id"] not in by_id
    assert (engine.starts, engine.reloads) == (starts, 1)  # reloaded in place, not restarted

    infected = _record(org.id, ticket_id, results["threat"]["id"])
    assert infected.status == "INFECTED" and infected.signature == NEW_THREAT
    assert infected.definitions_version == second["version"]
    settings = get_settings()
    s3 = boto3.client("s3")
    key = results["threat"]["key"]
    assert not s3.list_object_versions(Bucket=settings.uploads_bucket, Prefix=key).get("Versions")
    quarantined = s3.get_object(Bucket=settings.quarantine_bucket, Key=f"infected/{key}")
    assert quarantined["Body"].read() == threat
    download = client.get(
        path(ticket_id, results["threat"]["id"], "/download"), token=org.agent.token
    )
    assert download.status == 409
    events = security_events(caplog, "security.malware_detected")
    assert [e["attachment_id"] for e in events] == [results["threat"]["id"]]
    assert (
        _record(org.id, ticket_id, results["other"]["id"]).definitions_version
        == (second["version"])
    )
    assert _record(org.id, ticket_id, results["old"]["id"]).status == "CLEAN"

    # Nothing left to rescan: the next sweep does no work.
    assert handler(scheduled_event("retry_attachment_scans", "us-east-1"), None) == []
