"""Ticket notifications on `make run`'s stack: a ticket filed over HTTP reaches the organization's
staff as mail through the stack's own pump (stream -> router -> queue -> sender), written under
the stack's mail directory like every message it sends."""

from __future__ import annotations

import secrets
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
MAIL_DIR = ROOT / ".local" / "mail"


def _login(url: str, local_stack: dict[str, Any], role: str) -> tuple[str, str]:
    org = next(o for o in local_stack["credentials"]["organizations"] if o["id"] == "acme")
    user = next(u for u in org["users"] if u["role"] == role)
    body = {k: user[k] for k in ("organization", "email", "password")}
    response = requests.post(f"{url}/api/auth/login", json=body, timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"]), str(user["email"])


def _mail_with(subject: str) -> list[Any]:
    found = []
    for path in MAIL_DIR.glob("*.eml") if MAIL_DIR.exists() else []:
        mime = message_from_bytes(path.read_bytes(), policy=policy.default)
        if subject in str(mime["Subject"]):
            found.append(mime)
    return found


def test_a_new_ticket_is_mailed_to_staff_by_the_local_pump(local_stack: dict[str, Any]) -> None:
    url = local_stack["url"]
    token, _ = _login(url, local_stack, "REQUESTER")
    _, agent_email = _login(url, local_stack, "AGENT")
    subject = f"Notification e2e {secrets.token_hex(4)}"
    response = requests.post(
        f"{url}/api/tickets",
        json={"subject": subject, "body": "Mailed by the pump."},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    # One mail per staff member, sent one after another: wait for the agent's, not the first.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if agent_email in {str(mail["To"]) for mail in _mail_with(subject)}:
            break
        time.sleep(0.3)
    mails = _mail_with(subject)
    assert mails, "no notification within 20 s"
    assert agent_email in {str(mail["To"]) for mail in mails}
    for mail in mails:
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert response.json()["id"] in str(mail["In-Reply-To"])
