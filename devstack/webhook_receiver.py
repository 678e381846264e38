"""A webhook receiver on 127.0.0.1 for the local stack and the tests.

    python -m devstack.webhook_receiver --port 9000     # prints each delivery it receives

It records every request (path, headers, body) and answers with the next status of a script
(`statuses`, default 204), optionally with extra headers (a redirect's `Location`) and a body.
The local stack's pump delivers to it when an endpoint is registered with its URL
(`http://127.0.0.1:<port>/...`, accepted on the local stage only).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A threaded HTTP server bound to 127.0.0.1 on a free port (or `port`)."""

    def __init__(self, port: int = 0) -> None:
        self.received: list[Received] = []
        self.statuses: list[int] = []
        self.default_status = 204
        self.response_headers: dict[str, str] = {}
        self.response_body = b""
        self.printing = False  # print one line per delivery (the local stack's receiver)
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else None
                if receiver.printing:
                    print(
                        f"webhook {self.headers.get('X-Deskguard-Event')} "
                        f"delivery={self.headers.get('X-Deskguard-Delivery')} bytes={len(body)}",
                        flush=True,
                    )
                self.send_response(status or receiver.default_status)
                for name, value in receiver.response_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(receiver.response_body)))
                self.end_headers()
                self.wfile.write(receiver.response_body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the recorded requests are the log

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def running(port: int = 0) -> Iterator[Receiver]:
    receiver = Receiver(port).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print the webhook deliveries it receives.")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args()
    receiver = Receiver(args.port)
    receiver.printing = True
    print(f"webhook receiver on {receiver.url()}", flush=True)
    receiver.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
