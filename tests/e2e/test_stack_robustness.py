"""`make run`'s stack under stress: a clean stop on SIGTERM/SIGINT while clients and the S3 event
pump are busy, 64 concurrent clients without a reset, every HTTP method in the contract shape,
demo data seeded, PERSIST=1 across a restart, rate limiting on by default."""

from __future__ import annotations

import http.client
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.assertions import CONTRACT_HEADERS
from tests.support.stack import start_stack, stop_stack


def _check_contract_error(response: Any, status: int, code: str) -> None:
    assert response.status == status, response.read()
    for name, value in CONTRACT_HEADERS.items():
        assert response.getheader(name) == value, name
    assert response.getheader("X-Request-Id")
    assert response.getheader("Content-Type") == "application/json"
    body = requests.models.complexjson.loads(response.read())
    assert set(body) == {"error"} and body["error"]["code"] == code


def _login(url: str, org: dict[str, Any], role: str) -> str:
    user = next(u for u in org["users"] if u["role"] == role)
    body = {
        "organization": user["organization"],
        "email": user["email"],
        "password": user["password"],
    }
    response = requests.post(f"{url}/api/auth/login", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("TRACE", "/api/health"),
        ("CONNECT", "/api/health"),
        ("PROPFIND", "/api/tickets"),
        ("BREW", "/api/nope"),
    ],
)
def test_methods_the_api_does_not_define_are_contract_404(
    local_stack: dict[str, Any], method: str, path: str
) -> None:
    # API Gateway routes none of these to the function: its MISSING_AUTHENTICATION_TOKEN
    # response (404 NOT_FOUND, contract body, security headers), never an HTML 501 or bare 200.
    conn = http.client.HTTPConnection("127.0.0.1", local_stack["port"], timeout=10)
    conn.request(method, path, headers={"Origin": "https://evil.example"})
    response = conn.getresponse()
    _check_contract_error(response, 404, "NOT_FOUND")
    assert response.getheader("Access-Control-Allow-Origin") is None
    conn.close()


def test_malformed_request_line_is_answered_in_contract_shape(local_stack: dict[str, Any]) -> None:
    with socket.create_connection(("127.0.0.1", local_stack["port"]), timeout=10) as sock:
        sock.sendall(b"GET /api/health HTTP/9.9\r\n\r\n")
        raw = b""
        while chunk := sock.recv(4096):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 505 " in head.split(b"\r\n")[0]
    assert b"X-Frame-Options: DENY" in head and b"<html" not in raw.lower()
    assert requests.models.complexjson.loads(body)["error"]["code"] == "INTERNAL"


def test_64_concurrent_clients_get_no_connection_error(local_stack: dict[str, Any]) -> None:
    url = local_stack["url"]
    barrier = threading.Barrier(64)

    def one(_: int) -> tuple[int, int]:
        barrier.wait(timeout=60)  # every client connects at the same moment
        with requests.Session() as session:
            statuses = [session.get(f"{url}/api/health", timeout=60).status_code for _ in range(3)]
        return statuses.count(200), len(statuses)

    with ThreadPoolExecutor(64) as pool:
        results = list(pool.map(one, range(64)))  # a reset would raise here
    assert results == [(3, 3)] * 64


def test_demo_tickets_comments_and_attachment_are_seeded(local_stack: dict[str, Any]) -> None:
    url = local_stack["url"]
    for org in local_stack["credentials"]["organizations"]:
        token = _login(url, org, "AGENT")
        auth = {"Authorization": f"Bearer {token}"}
        listed = requests.get(f"{url}/api/tickets", headers=auth, timeout=30).json()
        seeded = {ticket["id"] for ticket in org["tickets"]}
        assert seeded <= {ticket["id"] for ticket in listed["items"]}
        first = org["tickets"][0]
        comments = requests.get(
            f"{url}/api/tickets/{first['id']}/comments", headers=auth, timeout=30
        ).json()["items"]
        assert len(comments) == first["comments"] == 3
        assert [c["internal"] for c in comments] == [False, False, True]
        attachments = requests.get(
            f"{url}/api/tickets/{first['id']}/attachments", headers=auth, timeout=30
        ).json()["items"]
        assert [a["filename"] for a in attachments] == ["portal-login.log.txt"]


def test_rate_limiting_is_on_by_default(local_stack: dict[str, Any]) -> None:
    org = local_stack["credentials"]["organizations"][0]
    token = _login(local_stack["url"], org, "REQUESTER")
    response = requests.get(
        f"{local_stack['url']}/api/me", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200
    assert int(response.headers["RateLimit-Limit"]) > 0
    assert int(response.headers["RateLimit-Remaining"]) < int(response.headers["RateLimit-Limit"])


def _busy(url: str, token: str, ticket_id: str, stop: threading.Event, errors: list[str]) -> None:
    """A client that keeps the stack busy: ticket reads and attachment uploads (the S3 pump
    scans each upload)."""
    auth = {"Authorization": f"Bearer {token}"}
    with requests.Session() as session:
        while not stop.is_set():
            try:
                grant = session.post(
                    f"{url}/api/tickets/{ticket_id}/attachments",
                    json={"filename": "load.txt", "contentType": "text/plain", "size": 5},
                    headers=auth,
                    timeout=10,
                )
                if grant.status_code == 201:
                    upload = grant.json()["upload"]
                    requests.post(
                        upload["url"],
                        data=upload["fields"],
                        files={"file": ("load.txt", b"hello", "text/plain")},
                        timeout=10,
                    )
                session.get(f"{url}/api/tickets/{ticket_id}", headers=auth, timeout=10)
            except requests.RequestException as error:  # expected once the stack stops
                errors.append(type(error).__name__)
                time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_under_load_with_the_pump_busy_exits_in_5_s(
    tmp_path: Path, signum: signal.Signals
) -> None:
    stack = start_stack(tmp_path / "stack.log")
    try:
        url = stack["url"]
        org = stack["credentials"]["organizations"][0]
        token = _login(url, org, "ADMIN")
        ticket_id = org["tickets"][1]["id"]
        stop, errors = threading.Event(), []
        clients = [
            threading.Thread(target=_busy, args=(url, token, ticket_id, stop, errors), daemon=True)
            for _ in range(8)
        ]
        for client in clients:
            client.start()
        # Wait until uploads are being scanned (the pump is busy), then signal.
        deadline = time.monotonic() + 60
        while not stack["scan_events"].exists() or stack["scan_events"].stat().st_size == 0:
            assert time.monotonic() < deadline, stack["log"].read_text()
            time.sleep(0.2)
        time.sleep(1.0)
        sent = time.monotonic()
        stack["process"].send_signal(signum)
        code = stack["process"].wait(timeout=30)
        took = time.monotonic() - sent
        stop.set()
        for client in clients:
            client.join(timeout=20)
        log = stack["log"].read_text()
        assert code == 0, log
        assert took < 5, f"exit took {took:.1f} s\n{log}"
        assert "Stopped." in log and "Traceback" not in log
        for port in (stack["port"], stack["moto_port"]):
            with socket.socket() as sock:
                assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still open"
    finally:
        stop_stack(stack)


def test_persist_keeps_data_and_sessions_across_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSIST", "1")
    monkeypatch.setenv("STATE_FILE", str(tmp_path / "state" / "moto-state.pickle"))
    first = start_stack(tmp_path / "first.log")
    try:
        url = first["url"]
        org = first["credentials"]["organizations"][0]
        token = _login(url, org, "REQUESTER")
        auth = {"Authorization": f"Bearer {token}"}
        created = requests.post(
            f"{url}/api/tickets",
            json={"subject": "Survives a restart", "body": "Kept in .local/state."},
            headers=auth,
            timeout=30,
        )
        assert created.status_code == 201
    finally:
        stop_stack(first)
    assert "State saved to" in first["log"].read_text()
    assert (tmp_path / "state" / "moto-state.pickle").stat().st_mode & 0o077 == 0

    second = start_stack(tmp_path / "second.log")
    try:
        assert "restored" in second["log"].read_text()
        assert second["credentials"]["organizations"] == first["credentials"]["organizations"]
        url = second["url"]
        # The session from before the restart still works (the keyring was kept) ...
        again = requests.get(f"{url}/api/tickets/{created.json()['id']}", headers=auth, timeout=30)
        assert again.status_code == 200 and again.json()["subject"] == "Survives a restart"
        # ... the demo passwords too, and the audit chain still verifies (same signing key).
        admin = {"Authorization": f"Bearer {_login(url, org, 'ADMIN')}"}
        verify = requests.get(f"{url}/api/admin/audit/verify", headers=admin, timeout=60)
        assert verify.status_code == 200 and verify.json()["ok"] is True, verify.text
    finally:
        stop_stack(second)
