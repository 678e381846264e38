"""`python -m devstack` (what `make run` starts): moto server + tables + demo data + local API.

Environment: `PORT` (API, default 8000), `MOTO_PORT` (default 5055), `HOST` (default 127.0.0.1),
`CREDENTIALS_FILE` (default `.local/demo-credentials.json`), `CLAMAV_DEFINITIONS_DIR` (default: a
tiny EICAR-only signature database written to `.local/clamav-definitions/` at start).
S3 ObjectCreated events reach the scan function through `devstack.s3_events` (a poller), which
also runs the retry sweep with EventBridge's scheduled-event shape and records every
`Attachment Scanned` event in `SCAN_EVENTS_FILE` (default `.local/scan-events.jsonl`). When
`clamd` is missing the start banner says that scanning is off (`make run` installs it through
`make system-deps`). The audit table's stream reaches the audit chainer through
`devstack.audit_stream`.
Ctrl-C (or SIGTERM) stops both servers.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5055"))
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    _configure_environment(host, port, moto_port)

    import logging

    from moto.server import ThreadedMotoServer

    # The S3 event poller lists the uploads bucket twice a second: keep moto's access log quiet.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address=host, port=moto_port, verbose=False)
    moto.start()

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
    organizations = seed_demo()
    api_url = f"http://{host}:{port}"
    credentials: dict[str, Any] = {"apiUrl": api_url, "organizations": organizations}
    out = Path(os.environ.get("CREDENTIALS_FILE", ROOT / ".local" / "demo-credentials.json"))
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(credentials, indent=2) + "\n")
    os.chmod(out, 0o600)

    config = Config.create(
        chalice_stage="local", app_name="deskguard", lambda_timeout=60, lambda_memory_size=512
    )
    server = create_server(app_module.app, config, host, port)
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    S3EventPump(app_module.app, stop, recorder).start()
    AuditStreamPump(app_module.app, stop).start()

    _print_banner(f"http://{host}:{moto_port}", api_url, organizations, out, events_file)
    sys.stdout.flush()

    stop.wait()
    server.server.shutdown()
    server.server.server_close()
    moto.stop()
    print("Stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
