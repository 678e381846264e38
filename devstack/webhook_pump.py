"""Webhook delivery for the local stack: no stream or schedule runs locally, so this thread
invokes the app's real `retry_webhook_deliveries` function (with EventBridge's scheduled-event
shape) every few seconds: events fan out to deliveries, due deliveries are attempted.
"""

from __future__ import annotations

import threading

from chalice.app import Chalice
from chalice.local import LambdaContext

from chalicelib.core.observability import logger
from chalicelib.core.settings import get_settings
from devstack.s3_events import scheduled_event


class WebhookPump(threading.Thread):
    def __init__(self, app: Chalice, stop: threading.Event, interval_seconds: float) -> None:
        super().__init__(name="webhook-pump", daemon=True)
        self.app, self.stop, self.interval = app, stop, interval_seconds

    def run(self) -> None:
        handler = self.app.handler_map["retry_webhook_deliveries"]
        event = scheduled_event("deskguard-local-retry_webhook_deliveries", get_settings().region)
        while not self.stop.wait(self.interval):
            try:
                handler(event, LambdaContext("retry_webhook_deliveries", memory_size=256))
            except Exception:  # the pump must outlive one bad round
                logger.exception("local webhook pump round failed")
