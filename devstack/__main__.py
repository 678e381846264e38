"""`python -m devstack` (what `make run` starts): moto server + tables + demo data + local API.

Environment: `PORT` (API, default 8000), `MOTO_PORT` (default 5055), `HOST` (default 127.0.0.1),
`CREDENTIALS_FILE` (default `.local/demo-credentials.json`), `CLAMAV_DEFINITIONS_DIR` (default: a
tiny EICAR-only signature database written to `.local/clamav-definitions/` at start).
S3 ObjectCreated events reach the scan function through `devstack.s3_events` (a poller), which
also runs the retry sweep with EventBridge's scheduled-event shape and records every
`Attachment Scanned` event in `SCAN_EVENTS_FILE` (default `.local/scan-events.jsonl`). When
`clamd` is missing the start banner says that scanning is off (`make run` installs it through
`make system-deps`). The audit table's stream reaches the audit chainer through
`devstack.audit_stream`. Webhook deliveries are pumped every `WEBHOOK_PUMP_INTERVAL_SECONDS`
(`devstack.webhook_pump`); with `WEBHOOK_RECEIVER_PORT` set, a receiver on 127.0.0.1 prints what
it gets (`devstack.webhook_receiver`; register `http://127.0.0.1:<port>/hooks`).
Mail the app sends (invitations, password resets, ticket notifications) is recorded by moto's
SES and written to `MAIL_DIR` (default `.local/mail/`), one `.eml` file per message; ticket
notifications are routed from the webhooks table's stream and drained from their SQS queue by
`devstack.notification_pump`.
Rate limiting is on, as in production: `RATE_LIMIT_ENABLED=false` turns it off,
`RATE_LIMIT_SCALE=N` multiplies every per-IP and per-principal budget (load tests).
`PERSIST=1` (`make run PERSIST=1`) keeps the data across restarts: at stop the moto state
(tables, buckets with their object versions, KMS keys, secrets) is saved to `STATE_FILE` (default
`.local/state/moto-state.pickle`) with the JWT keyring and the demo credentials, and restored at
the next start instead of seeding; delete the file to start afresh.
Ctrl-C (or SIGTERM) stops both servers and the pumps cleanly (`Shutdown`); `ACCESS_LOG=0`
silences the per-request access log.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import json
import os
import select
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# How long a stop waits for the pumps in the middle of a delivery (a scan) before leaving them.
PUMP_JOIN_SECONDS = 2.0


def _configure_environment(host: str, port: int, moto_port: int) -> None:
    # Must happen before chalicelib is imported: settings are read once, at import.
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "AWS_ENDPOINT_URL": f"http://{host}:{moto_port}",
            "DESKGUARD_STAGE": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
        }
    )
    if not os.environ.get("CLAMAV_DEFINITIONS_DIR"):
        # No real definitions can be downloaded here: scan with one EICAR signature.
        from devstack.clamav import write_test_definitions

        definitions = ROOT / ".local" / "clamav-definitions"
        write_test_definitions(definitions)
        os.environ["CLAMAV_DEFINITIONS_DIR"] = str(definitions)
    # Signed audit checkpoints within seconds locally, so the archive is there to look at.
    os.environ.setdefault("AUDIT_CHECKPOINT_EVERY_SECONDS", "10")
    # The resident clamd's socket lives here (short path; one per local stack port).
    os.environ.setdefault("CLAMD_WORK_DIR", f"/tmp/deskguard-clamd-{os.getuid()}-{port}")  # noqa: S108
    # Scan verdicts go to this bus; the local stack records them in .local/scan-events.jsonl.
    os.environ.setdefault("SCAN_EVENTS_BUS", "deskguard-local-events")
    # Cookie-authenticated writes must come from the local API's own origin (CSRF check).
    os.environ.setdefault("ALLOWED_ORIGINS", f"http://{host}:{port},http://localhost:{port}")
    # Links in the mail it sends point at the local API's address.
    os.environ.setdefault("PUBLIC_APP_URL", f"http://{host}:{port}")
    from chalicelib.core.keyring import generate_keyring_json

    os.environ.setdefault("JWT_KEYRING", generate_keyring_json())


def _print_banner(
    moto_url: str,
    api_url: str,
    organizations: list[dict[str, Any]],
    credentials: Path,
    events_file: Path,
) -> None:
    from devstack.clamav import scanning_problem

    print(f"Deskguard local stack (moto on {moto_url})")
    for org in organizations:
        print(f"  organization {org['id']} ({org['name']})")
        for user in org["users"]:
            print(f"    {user['role']:<9} {user['email']:<26} {user['password']}")
        for ticket in org.get("tickets", []):
            extras = f"{ticket['comments']} comments, {ticket['attachments']} attachments"
            print(f"    ticket {ticket['id']}  {ticket['subject']} ({extras})")
    print('  log in with {"organization": "<id>", "email": ..., "password": ...}')
    print(f"Credentials written to {credentials}")
    problem = scanning_problem()
    if problem:
        print(f"ATTACHMENT SCANNING IS OFF: {problem}")
    else:
        definitions = os.environ["CLAMAV_DEFINITIONS_DIR"]
        print(f"Attachment scanner: resident clamd, definitions in {definitions}")
    print(f"Scan verdicts (EventBridge 'Attachment Scanned') recorded in {events_file}")
    print(f"Deskguard API listening on {api_url}  (try {api_url}/api/health; Ctrl-C stops)")


def _start_webhooks(app: Any, stop: threading.Event) -> None:
    """The delivery pump and, if asked for, a printing receiver (both small, both local)."""
    from devstack.webhook_pump import WebhookPump

    interval = float(os.environ.get("WEBHOOK_PUMP_INTERVAL_SECONDS", "2"))
    if interval > 0:
        WebhookPump(app, stop, interval).start()
    receiver_port = os.environ.get("WEBHOOK_RECEIVER_PORT")
    if receiver_port:
        from devstack.webhook_receiver import Receiver

        receiver = Receiver(int(receiver_port)).start()
        receiver.printing = True
        print(f"Webhook receiver on {receiver.url()} (register it as an endpoint URL)")


def _start_notifications(app: Any, stop: threading.Event) -> Any:
    """Ticket notifications: the webhooks stream to the router, the queue to the sender."""
    from devstack.notification_pump import NotificationPump

    pump = NotificationPump(app, stop)
    pump.start()
    return pump


def _start_mail_capture(stop: threading.Event, app: Any) -> Path:
    """Copy every mail moto's SES records to MAIL_DIR (default `.local/mail/`), and ingest every
    .eml dropped into `<MAIL_DIR>/inbox/` as received mail."""
    from devstack.mail_capture import MailCapture, MailCapturePump

    mail_dir = Path(os.environ.get("MAIL_DIR", ROOT / ".local" / "mail"))
    MailCapturePump(MailCapture(mail_dir), stop).start()
    _start_mail_inbox(app, stop, mail_dir)
    return mail_dir


def _start_mail_inbox(app: Any, stop: threading.Event, mail_dir: Path) -> Path:
    """Ingest every .eml dropped into `<MAIL_DIR>/inbox/` as received mail."""
    from devstack.mail_inbox import MailInboxPump

    inbox = mail_dir / "inbox"
    MailInboxPump(app, stop, inbox).start()
    return inbox


class Shutdown:
    """SIGTERM/SIGINT -> a clean stop, done by the main thread.

    A signal handler runs in the main thread between two bytecodes, possibly while that thread
    holds a lock (`threading.Event.wait` holds its condition's lock): setting an `Event` from
    the handler can deadlock the whole process, and every thread waiting on the same event
    (the S3 event pump) freezes with it. So the handler only sets a flag; the C-level wakeup fd
    (`signal.set_wakeup_fd`) writes the signal number to a socket the main thread waits on, and
    the main thread then stops everything. A second signal during the stop exits at once.
    """

    def __init__(self) -> None:
        self.signal: int | None = None
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)

    def install(self) -> None:
        signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        if self.signal is not None:
            os._exit(128 + signum)  # asked twice: do not wait for the clean stop
        self.signal = signum

    def wait(self) -> int:
        """Block until a signal arrives; returns its number."""
        while self.signal is None:
            select.select([self._reader], [], [], 1.0)
            with contextlib.suppress(BlockingIOError):
                self._reader.recv(64)
        return self.signal


def _on(name: str, default: str = "") -> bool:
    return os.environ.get(name, default).strip().lower() in {"1", "true", "yes", "on"}


@dataclasses.dataclass
class Stack:
    """What `main` started, so it can be stopped in order."""

    moto: Any
    server: Any
    stop: threading.Event
    s3_pump: Any
    audit_pump: Any
    organizations: list[dict[str, Any]]
    state_file: Path | None
    notification_pump: Any = None


def _start_moto(host: str, moto_port: int) -> Any:
    import logging

    from moto.server import ThreadedMotoServer

    from devstack.moto_lock import serialize_moto_actions

    # The S3 event poller lists the uploads bucket twice a second: keep moto's access log quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    serialize_moto_actions()
    moto = ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False)
    moto.start()
    return moto


def start(host: str, port: int, moto_port: int, state_file: Path | None) -> Stack:
    """moto, the tables and buckets, demo data (or the saved state), the API and the pumps."""
    state = None
    if state_file is not None:
        from devstack import persist

        state = persist.load(state_file)
        if state is not None and state.keyring and not os.environ.get("JWT_KEYRING"):
            os.environ["JWT_KEYRING"] = state.keyring  # sessions signed before the restart
    _configure_environment(host, port, moto_port)

    moto = _start_moto(host, moto_port)
    if state is not None:
        persist.restore(state)

    from chalice.config import Config

    import app as app_module
    from chalicelib.tables import create_tables
    from devstack.audit_stream import AuditStreamPump
    from devstack.gateway import create_server
    from devstack.resources import create_buckets, create_event_recorder
    from devstack.s3_events import S3EventPump
    from devstack.seed import seed_demo

    create_tables()
    create_buckets()
    events_file = Path(os.environ.get("SCAN_EVENTS_FILE", ROOT / ".local" / "scan-events.jsonl"))
    recorder = create_event_recorder(events_file)
    organizations = state.organizations if state is not None else seed_demo()
    api_url = f"http://{host}:{port}"
    credentials: dict[str, Any] = {"apiUrl": api_url, "organizations": organizations}
    out = Path(os.environ.get("CREDENTIALS_FILE", ROOT / ".local" / "demo-credentials.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(credentials, indent=2) + "\n")
    os.chmod(out, 0o600)

    config = Config.create(
        chalice_stage="local", app_name="deskguard", lambda_timeout=60, lambda_memory_size=512
    )
    quiet = not _on("ACCESS_LOG", "true")
    server = create_server(app_module.app, config, host, port, quiet=quiet)
    stop = threading.Event()  # set by the main thread only, never from a signal handler
    threading.Thread(
        target=server.server.serve_forever,
        name="http",
        kwargs={"poll_interval": 0.2},
        daemon=True,
    ).start()
    s3_pump = S3EventPump(app_module.app, stop, recorder)
    if state is not None:
        s3_pump.seen.update(state.seen_uploads)
    s3_pump.start()
    audit_pump = AuditStreamPump(app_module.app, stop)
    audit_pump.start()
    notification_pump = _start_notifications(app_module.app, stop)
    _start_webhooks(app_module.app, stop)
    mail_dir = _start_mail_capture(stop, app_module.app)

    _print_banner(f"http://{host}:{moto_port}", api_url, organizations, out, events_file)
    print(
        f"Mail sent by the app (invitations, password resets, notifications) written to "
        f"{mail_dir}/; drop received mail (.eml) into {mail_dir}/inbox/"
    )
    if state_file is not None:
        restored = "restored" if state is not None else "nothing to restore yet"
        print(f"PERSIST=1: {restored}; state is saved to {state_file} at stop")
    sys.stdout.flush()
    return Stack(
        moto, server, stop, s3_pump, audit_pump, organizations, state_file, notification_pump
    )


def stop(stack: Stack) -> None:
    """Stop in order: no new requests, open connections closed, pumps, save, moto."""
    stack.stop.set()
    stack.server.server.shutdown()  # returns once serve_forever has left its loop
    stack.server.server.close_connections()
    stack.server.server.server_close()
    deadline = time.monotonic() + PUMP_JOIN_SECONDS  # for every pump together
    for pump in (stack.s3_pump, stack.audit_pump, stack.notification_pump):
        if pump is None:
            continue
        pump.join(timeout=max(0.0, deadline - time.monotonic()))
        if pump.is_alive():
            print(f"{pump.name} still busy after {PUMP_JOIN_SECONDS:.0f} s; not waiting for it")
    if stack.state_file is not None:
        from devstack import persist

        persist.save(
            stack.state_file,
            keyring=os.environ.get("JWT_KEYRING", ""),
            organizations=stack.organizations,
            seen_uploads=stack.s3_pump.seen,
        )
        print(f"State saved to {stack.state_file}")
    stack.moto.stop()


def main(argv: list[str] | None = None) -> int:
    import argparse

    argparse.ArgumentParser(
        prog="python -m devstack",
        description=__doc__,
        epilog="Configured by the environment only (see .env.example, 'Local stack').",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5055"))
    state_file = None
    if _on("PERSIST"):
        default = ROOT / ".local" / "state" / "moto-state.pickle"
        state_file = Path(os.environ.get("STATE_FILE") or default)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    shutdown = Shutdown()
    shutdown.install()  # before any thread starts: every later signal takes the clean path
    stack = start(host, port, moto_port, state_file)
    signum = shutdown.wait()
    print(f"{signal.Signals(signum).name}: stopping")
    sys.stdout.flush()
    stop(stack)
    print("Stopped.")
    sys.stdout.flush()
    return 0


def exit_now(code: int) -> None:
    """Leave without the interpreter's module teardown: its final garbage collection walks every
    object moto and botocore hold and, on a busy machine, took 20 s after a stop under load.
    The exit handlers (the resident clamd's stop, logging) still run; the state is saved."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
