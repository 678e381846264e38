"""S3 events for the local stack: `chalice local` runs no event triggers, so this thread watches
the uploads bucket in moto and delivers an EventBridge "Object Created" event for every new
object version to the app's real `scan_attachment` function, as the EventBridge rule the deploy
template creates invokes it in AWS. It also runs the scheduled scan-retry function every minute
(EventBridge's schedule in AWS, with the same scheduled-event shape) and drains the recorder of
`Attachment Scanned` events.

The pump only ever *waits* on the stop event; the main thread sets it (never a signal handler,
see `devstack.__main__.Shutdown`), and the pump checks it between two deliveries, so a stop
during a busy poll waits for one scan at most.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

import boto3
from chalice.app import Chalice
from chalice.local import LambdaContext

from chalicelib.core.settings import get_settings
from devstack.resources import EventRecorder

POLL_SECONDS = 0.5
RETRY_SWEEP_SECONDS = 60.0
LOCAL_ACCOUNT = "000000000000"


def object_created_event(bucket: str, entry: dict[str, Any], region: str) -> dict[str, Any]:
    """S3's EventBridge "Object Created" event for one object version (real events' shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                # URL-encoded like S3's notifications; the function decodes it (Powertools).
                "key": quote_plus(entry["Key"], safe="/"),
                "size": entry["Size"],
                "etag": entry["ETag"].strip('"'),
                "version-id": entry["VersionId"],
                "sequencer": f"{time.time_ns():X}",
            },
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": LOCAL_ACCOUNT,
            "source-ip-address": "127.0.0.1",
            "reason": "POST Object",
        },
    }


def scheduled_event(rule_name: str, region: str) -> dict[str, Any]:
    """EventBridge's "Scheduled Event" for a schedule rule (the shape Chalice's event class reads:
    `version`, `account`, `region`, `detail`, `detail-type`, `source`, `time`, `id`,
    `resources`)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{rule_name}"],
        "detail": {},
    }


class S3EventPump(threading.Thread):
    """Polls the uploads bucket and invokes the scan function for each new object version."""

    def __init__(
        self, app: Chalice, stop: threading.Event, recorder: EventRecorder | None = None
    ) -> None:
        super().__init__(name="s3-event-pump", daemon=True)
        self.app = app
        self.stop = stop
        self.recorder = recorder
        self.seen: set[tuple[str, str]] = set()
        self.delivered = 0

    def _invoke(self, function_name: str, event: dict[str, Any]) -> bool:
        handler = self.app.handler_map[function_name]
        try:
            handler(event, LambdaContext(function_name, memory_size=1024))
        except Exception as error:  # Lambda would log, retry, then send to the DLQ.
            print(f"[s3-events] {function_name} failed: {type(error).__name__}: {error}")
            return False
        return True

    def sweep(self) -> bool:
        """Run the scheduled scan-retry function once, as its EventBridge schedule does."""
        event = scheduled_event("deskguard-local-retry_attachment_scans", get_settings().region)
        return self._invoke("retry_attachment_scans", event)

    def poll_once(self) -> int:
        settings = get_settings()
        s3 = boto3.client("s3", region_name=settings.region)
        delivered = 0
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=settings.uploads_bucket):
            for entry in page.get("Versions", []):
                if self.stop.is_set():  # stopping: leave the rest for the next start
                    self.delivered += delivered
                    return delivered
                marker = (entry["Key"], entry["VersionId"])
                if marker in self.seen:
                    continue
                self.seen.add(marker)
                event = object_created_event(settings.uploads_bucket, entry, settings.region)
                self._invoke("scan_attachment", event)
                delivered += 1
        self.delivered += delivered
        return delivered

    def run(self) -> None:
        next_sweep = time.monotonic() + RETRY_SWEEP_SECONDS
        while not self.stop.wait(POLL_SECONDS):
            try:
                self.poll_once()
                if self.recorder is not None:
                    self.recorder.drain()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + RETRY_SWEEP_SECONDS
                    self.sweep()
            except Exception as error:  # keep pumping through a transient moto error
                print(f"[s3-events] poll failed: {type(error).__name__}: {error}")
