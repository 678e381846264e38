"""The local stack's mailbox: every message the app sends through SES (moto, in this process)
is also written to `MAIL_DIR` (default `.local/mail/`) as one `.eml` file, so a developer can
open an invitation or a reset link. Files are readable by their owner only; they hold one-time
tokens and addresses, like the mail itself.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.core.settings import get_settings

POLL_SECONDS = 0.5


class MailCapture:
    """Copies the messages moto's SES recorded since the last call into `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written = 0

    def drain(self) -> list[Path]:
        backend = ses_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
        messages = list(backend.sent_messages)[self.written :]
        paths = []
        if messages:
            self.directory.mkdir(parents=True, exist_ok=True)
        for message in messages:
            self.written += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            path = self.directory / f"{stamp}-{self.written:04d}.eml"
            raw = getattr(message, "raw_data", None) or _simple_as_text(message)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(raw)
            paths.append(path)
        return paths


def _simple_as_text(message: object) -> str:
    """A message sent with Simple content (moto keeps its fields, not MIME)."""
    return (
        f"From: {getattr(message, 'source', '')}\n"
        f"Subject: {getattr(message, 'subject', '')}\n\n{getattr(message, 'body', '')}\n"
    )


class MailCapturePump(threading.Thread):
    """Drains the capture twice a second until `stop` is set."""

    def __init__(self, capture: MailCapture, stop: threading.Event) -> None:
        super().__init__(name="mail-capture", daemon=True)
        self.capture = capture
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            self.capture.drain()
