"""Attachments over real HTTP against `make run`'s stack: create a ticket, request an upload,
POST the file to the presigned URL (moto server), wait for the scan the stack's S3 event poller
triggers, then download through the 302. EICAR must end INFECTED and never downloadable."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from tests.support.av import EICAR, pdf_bytes


def _login(stack: dict[str, Any], org_index: int, role: str) -> dict[str, str]:
    org = stack["credentials"]["organizations"][org_index]
    user = next(u for u in org["users"] if u["role"] == role)
    response = requests.post(
        f"{stack['url']}/api/auth/login",
        json={k: user[k] for k in ("organization", "email", "password")},
        timeout=30,
    )
    assert response.status_code == 200
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _upload(  # noqa: PLR0917 (test step helper)
    stack: dict[str, Any],
    auth: dict[str, str],
    ticket_id: str,
    name: str,
    content_type: str,
    content: bytes,
) -> str:
    created = requests.post(
        f"{stack['url']}/api/tickets/{ticket_id}/attachments",
        json={"filename": name, "contentType": content_type, "size": len(content)},
        headers=auth,
        timeout=30,
    )
    assert created.status_code == 201, created.text
    upload = created.json()["upload"]
    assert upload["url"].startswith(f"http://127.0.0.1:{stack['moto_port']}/")
    posted = requests.post(
        upload["url"], data=upload["fields"], files={"file": (name, content)}, timeout=30
    )
    assert posted.status_code == 204, posted.text
    return str(created.json()["id"])


def _wait_for_verdict(url: str, auth: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = requests.get(url, headers=auth, timeout=30).json()
        if body["status"] != "PENDING_SCAN":
            return body
        time.sleep(0.3)
    raise AssertionError("no scan verdict within 60 s")


def test_upload_scan_and_download_over_http(local_stack: dict[str, Any]) -> None:
    base = local_stack["url"]
    requester = _login(local_stack, 0, "REQUESTER")
    agent = _login(local_stack, 0, "AGENT")
    ticket = requests.post(
        f"{base}/api/tickets",
        json={"subject": "Scanned invoice", "body": "Attached."},
        headers=requester,
        timeout=30,
    )
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["id"]
    attachments = f"{base}/api/tickets/{ticket_id}/attachments"

    content = pdf_bytes("e2e")
    clean_id = _upload(local_stack, requester, ticket_id, "invoice.pdf", "application/pdf", content)
    infected_id = _upload(local_stack, requester, ticket_id, "notes.txt", "text/plain", EICAR)

    clean = _wait_for_verdict(f"{attachments}/{clean_id}", agent)
    assert clean["status"] == "CLEAN" and clean["sniffedType"] == "application/pdf"
    redirect = requests.get(
        f"{attachments}/{clean_id}/download", headers=agent, allow_redirects=False, timeout=30
    )
    assert redirect.status_code == 302
    downloaded = requests.get(redirect.headers["Location"], timeout=30)
    assert downloaded.status_code == 200 and downloaded.content == content
    assert downloaded.headers["Content-Disposition"].startswith(
        'attachment; filename="invoice.pdf"'
    )
    assert downloaded.headers["Content-Type"] == "application/pdf"

    infected = _wait_for_verdict(f"{attachments}/{infected_id}", agent)
    assert infected["status"] == "INFECTED"
    refused = requests.get(
        f"{attachments}/{infected_id}/download", headers=agent, allow_redirects=False, timeout=30
    )
    assert refused.status_code == 409 and "Location" not in refused.headers

    # The stack scanned with clamd (it said so at start) and recorded both verdicts as events.
    banner = local_stack["log"].read_text()
    assert "Attachment scanner: resident clamd" in banner and "SCANNING IS OFF" not in banner
    deadline = time.monotonic() + 10
    recorded: dict[str, str] = {}
    while len(recorded) < 2 and time.monotonic() < deadline:
        if local_stack["scan_events"].exists():
            for line in local_stack["scan_events"].read_text().splitlines():
                detail = json.loads(line)["detail"]
                if detail["attachmentId"] in {clean_id, infected_id}:
                    recorded[detail["attachmentId"]] = detail["status"]
        time.sleep(0.3)
    assert recorded == {clean_id: "CLEAN", infected_id: "INFECTED"}

    # The other demo organization sees none of it.
    outsider = _login(local_stack, 1, "ADMIN")
    assert requests.get(attachments, headers=outsider, timeout=30).status_code == 404
    assert (
        requests.get(
            f"{attachments}/{clean_id}/download",
            headers=outsider,
            allow_redirects=False,
            timeout=30,
        ).status_code
        == 404
    )
