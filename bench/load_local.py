"""Load test of the local stack (`make run`) over real HTTP: N clients for T seconds, mixed reads
and writes, rate limiting ON (budgets raised with RATE_LIMIT_SCALE), then SIGTERM under load.

    .venv/bin/python bench/load_local.py                    # starts its own stack on free ports
    .venv/bin/python bench/load_local.py --clients 16 --duration 10 --no-sigterm
    .venv/bin/python bench/load_local.py --url http://127.0.0.1:8000 \\
        --credentials .local/demo-credentials.json          # a running `make run`

Each client is a thread with its own keep-alive connection, logged in as one of the demo users
(one login per user, shared by its clients: bcrypt is not what is measured). The mix per client
iteration: list tickets (30%), get a ticket (25%), `GET /api/me` (10%), create a ticket (10%),
comment (15%), PATCH the priority with `If-Match` (10%; agents and admins; a 409 from a
concurrent change of the same ticket is expected and counted apart). Printed: requests, status
classes, errors by kind (status + error code), connection errors, 5xx, p50/p90/p99/max per
operation. Then (own stack only, unless `--no-sigterm`) the load starts again, SIGTERM is sent
while it runs, and the time to exit and the exit status are reported.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
MIX = (
    ("list", 30),
    ("get", 25),
    ("me", 10),
    ("create", 10),
    ("comment", 15),
    ("patch", 10),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_stack(workdir: Path, scale: float) -> tuple[subprocess.Popen[bytes], str, Path, Path]:
    """`python -m devstack` on free ports, rate limiting on with budgets x `scale`."""
    port, moto_port = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "DESKGUARD_", "JWT_", "RATE_LIMIT_", "PERSIST"))
    }
    credentials = workdir / "demo-credentials.json"
    env.update(
        {
            "PORT": str(port),
            "MOTO_PORT": str(moto_port),
            "PYTHONUNBUFFERED": "1",
            "CREDENTIALS_FILE": str(credentials),
            "SCAN_EVENTS_FILE": str(workdir / "scan-events.jsonl"),
            "RATE_LIMIT_ENABLED": "true",
            "RATE_LIMIT_SCALE": str(scale),
            "ACCESS_LOG": "0",
        }
    )
    log_path = workdir / "stack.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"], cwd=ROOT, env=env, stdout=log, stderr=log
        )
    deadline = time.monotonic() + 90
    while "listening on" not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the local stack did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    return process, f"http://127.0.0.1:{port}", credentials, log_path


def login(url: str, org: str, user: dict[str, Any]) -> str:
    body = {"organization": org, "email": user["email"], "password": user["password"]}
    response = requests.post(f"{url}/api/auth/login", json=body, timeout=60)
    response.raise_for_status()
    return str(response.json()["token"])


class Stats:
    """Thread-safe tallies of one phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latency: dict[str, list[float]] = collections.defaultdict(list)
        self.kinds: collections.Counter[str] = collections.Counter()
        self.statuses: collections.Counter[str] = collections.Counter()
        self.connection_errors = 0
        self.requests = 0

    def record(
        self, op: str, seconds: float, response: requests.Response | None, error: str
    ) -> None:
        with self.lock:
            self.requests += 1
            if response is None:
                self.connection_errors += 1
                self.kinds[f"connection: {error}"] += 1
                return
            self.latency[op].append(seconds)
            self.latency["all"].append(seconds)
            status = response.status_code
            self.statuses[f"{status // 100}xx"] += 1
            if status >= 400:
                try:
                    code = response.json()["error"]["code"]
                except (ValueError, KeyError, TypeError):
                    code = "non-contract body"
                self.kinds[f"{status} {code} ({op})"] += 1


class Client(threading.Thread):
    def __init__(  # noqa: PLR0917 (one client's whole configuration)
        self,
        url: str,
        token: str,
        staff: bool,
        tickets: list[str],
        stats: Stats,
        stop: threading.Event,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.staff = staff
        self.tickets = tickets  # ids this client may see (its user's or its org's)
        self.stats = stats
        self.stop = stop
        self.random = random.Random(seed)  # nosec B311 (load mix, not security)
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _call(self, op: str, method: str, path: str, **kwargs: Any) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
        except requests.RequestException as error:
            self.stats.record(op, 0.0, None, type(error).__name__)
            return None
        self.stats.record(op, time.perf_counter() - started, response, "")
        return response

    def _one(self) -> None:
        ops, weights = zip(*MIX, strict=True)
        op = self.random.choices(ops, weights)[0] if self.tickets else "create"
        ticket = self.random.choice(self.tickets) if self.tickets else ""
        if op == "list":
            self._call(op, "GET", "/api/tickets?limit=20")
        elif op == "get":
            self._call(op, "GET", f"/api/tickets/{ticket}")
        elif op == "me":
            self._call(op, "GET", "/api/me")
        elif op == "create":
            body = {"subject": "Load test ticket", "body": "Created by *bench/load_local.py*."}
            response = self._call(op, "POST", "/api/tickets", json=body)
            if response is not None and response.status_code == 201 and len(self.tickets) < 50:
                self.tickets.append(response.json()["id"])
        elif op == "comment":
            body = {"body": "A comment from the load test."}
            self._call(op, "POST", f"/api/tickets/{ticket}/comments", json=body)
        elif self.staff:  # patch
            current = self._call("get", "GET", f"/api/tickets/{ticket}")
            if current is None or current.status_code != 200:
                return
            priority = self.random.choice(["LOW", "NORMAL", "HIGH"])
            self._call(
                op,
                "PATCH",
                f"/api/tickets/{ticket}",
                json={"priority": priority},
                headers={"If-Match": current.headers.get("ETag", "")},
            )

    def run(self) -> None:
        while not self.stop.is_set():
            self._one()
        self.session.close()


def own_tickets(url: str, token: str) -> list[str]:
    """The ids of the tickets a requester sees (their own), first page."""
    response = requests.get(
        f"{url}/api/tickets?limit=20", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    response.raise_for_status()
    return [item["id"] for item in response.json()["items"]]


def run_load(
    url: str,
    credentials: dict[str, Any],
    clients: int,
    stats: Stats,
    stop: threading.Event,
) -> list[Client]:
    """Log every demo user in once and start `clients` threads spread over them."""
    users: list[tuple[str, bool, list[str]]] = []
    for org in credentials["organizations"]:
        org_tickets = [ticket["id"] for ticket in org.get("tickets", [])]
        for user in org["users"]:
            staff = user["role"] != "REQUESTER"
            token = login(url, org["id"], user)
            # A requester reads and comments on their own tickets only (some have none yet).
            users.append((token, staff, org_tickets if staff else own_tickets(url, token)))
    threads = []
    for number in range(clients):
        token, staff, tickets = users[number % len(users)]
        thread = Client(url, token, staff, list(tickets), stats, stop, seed=number)
        thread.start()
        threads.append(thread)
    return threads


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def report(stats: Stats, seconds: float, clients: int) -> str:
    lines = [
        f"load: {clients} clients for {seconds:.1f} s, rate limiting on",
        f"requests {stats.requests}  ({stats.requests / seconds:.0f}/s)",
        "status classes: "
        + ", ".join(f"{key} {value}" for key, value in sorted(stats.statuses.items())),
        f"connection errors {stats.connection_errors}",
        f"5xx {stats.statuses.get('5xx', 0)}",
        "",
        f"{'operation':<10} {'count':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}",
    ]
    for op in [name for name, _ in MIX] + ["all"]:
        values = stats.latency.get(op, [])
        if not values:
            continue
        lines.append(
            f"{op:<10} {len(values):>7} {_percentile(values, 0.5):>8.1f} "
            f"{_percentile(values, 0.9):>8.1f} {_percentile(values, 0.99):>8.1f} "
            f"{max(values) * 1000:>8.1f}"
        )
    lines.append("")
    lines.append("responses >= 400 and connection errors, by kind:")
    for kind, count in stats.kinds.most_common():
        lines.append(f"  {count:>6}  {kind}")
    if not stats.kinds:
        lines.append("  none")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (64)")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load (30)")
    parser.add_argument(
        "--scale",
        type=float,
        default=100.0,
        help="RATE_LIMIT_SCALE of the stack this script starts (100)",
    )
    parser.add_argument("--url", help="target a running stack instead of starting one")
    parser.add_argument(
        "--credentials",
        default=str(ROOT / ".local" / "demo-credentials.json"),
        help="demo credentials of the running stack (with --url)",
    )
    parser.add_argument(
        "--no-sigterm",
        dest="sigterm",
        action="store_false",
        help="skip the last step: SIGTERM to the stack under load, time to exit (own stack)",
    )
    parser.add_argument("--keep-log", metavar="PATH", help="copy the stack's log there")
    args = parser.parse_args(argv)
    process = None
    log_path = None
    with tempfile.TemporaryDirectory(prefix="deskguard-load-") as tmp:
        if args.url:
            url, credentials_file = args.url.rstrip("/"), Path(args.credentials)
        else:
            process, url, credentials_file, log_path = start_stack(Path(tmp), args.scale)
        credentials = json.loads(credentials_file.read_text())
        try:
            stats, stop = Stats(), threading.Event()
            threads = run_load(url, credentials, args.clients, stats, stop)
            started = time.monotonic()
            time.sleep(args.duration)
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
            print(report(stats, time.monotonic() - started, args.clients))
            if process is not None and args.sigterm:
                print()
                print(sigterm_under_load(process, url, credentials, args.clients))
        finally:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)
            if log_path is not None:
                if args.keep_log:
                    Path(args.keep_log).write_text(log_path.read_text())
                tracebacks = log_path.read_text().count("Traceback")
                print(f"\ntracebacks in the stack's log: {tracebacks}")
    return 0


def sigterm_under_load(
    process: subprocess.Popen[bytes], url: str, credentials: dict[str, Any], clients: int
) -> str:
    """Load for 3 s, SIGTERM, keep the load going; report exit time and status."""
    stats, stop = Stats(), threading.Event()
    threads = run_load(url, credentials, clients, stats, stop)
    time.sleep(3)
    in_flight = stats.requests
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        code: int | str = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        code = "none (killed after 30 s)"
    took = time.monotonic() - sent
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return (
        f"SIGTERM under load ({clients} clients, {in_flight} requests before the signal): "
        f"exited in {took:.2f} s with status {code}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
