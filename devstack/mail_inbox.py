"""Inbound mail for the local stack: no SES receives mail locally, so this thread picks up every
`.eml` dropped into the inbox folder (default `.local/mail/inbox/`), stores it in the inbound-mail
bucket under `inbound/` as SES would, and invokes the app's real `ingest_mail` function with the
S3 "Object Created" event. A picked-up file moves to `done/` (or `failed/` when ingesting raised).
"""

from __future__ import annotations

import secrets
import threading
from pathlib import Path
from typing import Any

import boto3
from chalice.app import Chalice
from chalice.local import LambdaContext

from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings


def object_created(bucket: str, key: str) -> dict[str, Any]:
    """The EventBridge shape of S3's "Object Created" event for one object."""
    return {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


class MailInboxPump(threading.Thread):
    def __init__(
        self, app: Chalice, stop: threading.Event, inbox: Path, interval_seconds: float = 2.0
    ) -> None:
        super().__init__(name="mail-inbox-pump", daemon=True)
        self.app, self.stop, self.inbox, self.interval = app, stop, inbox, interval_seconds

    def round(self) -> list[dict[str, Any]]:
        """Ingest every `.eml` in the inbox once; returns the function's outcomes."""
        settings = get_settings()
        s3 = boto3.client("s3", region_name=settings.region)
        handler = self.app.handler_map["ingest_mail"]
        outcomes: list[dict[str, Any]] = []
        for path in sorted(self.inbox.glob("*.eml")):
            key = f"inbound/local-{secrets.token_hex(8)}"
            target = "done"
            try:
                s3.put_object(Bucket=settings.inbound_mail_bucket, Key=key, Body=path.read_bytes())
                event = object_created(settings.inbound_mail_bucket, key)
                outcomes += handler(event, LambdaContext("ingest_mail", memory_size=1024))
            except Exception:  # one bad message must not stop the pump
                logger.exception("local mail inbox: ingesting a message failed")
                target = "failed"
            (self.inbox / target).mkdir(parents=True, exist_ok=True)
            path.replace(self.inbox / target / path.name)
        return outcomes

    def run(self) -> None:
        self.inbox.mkdir(parents=True, exist_ok=True)
        while not self.stop.wait(self.interval):
            try:
                self.round()
            except Exception:
                logger.exception("local mail inbox round failed")
