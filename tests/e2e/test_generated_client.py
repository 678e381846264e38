"""A client generated from the committed `docs/openapi.json` with openapi-python-client, driving
the local stack (`make run`) over HTTP: what a customer who generates a client gets.

The generator runs offline (no post-generation hooks), into a temporary directory; the package is
imported from there. The client raises on any status the document does not declare, so an
undocumented answer fails the test as much as a wrong body does.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support.stack import ROOT

PACKAGE = "deskguard_client"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """`openapi-python-client generate` on docs/openapi.json, importable as `deskguard_client`."""
    out = tmp_path_factory.mktemp("client")
    config = out / "config.yaml"
    config.write_text("post_hooks: []\n", encoding="utf-8")  # no ruff run: offline, no PATH
    result = subprocess.run(  # noqa: S603 (fixed argv, no shell)
        [
            sys.executable, "-m", "openapi_python_client", "generate",
            "--path", str(ROOT / "docs" / "openapi.json"),
            "--output-path", str(out / PACKAGE), "--meta", "none", "--config", str(config),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    # The generator reports what it could not generate as warnings, not as a failure.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _module(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.{name}")


def _user(local_stack: dict[str, Any], role: str, org_id: str = "acme") -> dict[str, str]:
    org = next(o for o in local_stack["credentials"]["organizations"] if o["id"] == org_id)
    return dict(next(u for u in org["users"] if u["role"] == role))


def test_generated_client_logs_in_creates_lists_patches_comments_and_reads_errors(
    generated: ModuleType, local_stack: dict[str, Any]
) -> None:
    client_module = _module("client")
    models = _module("models")
    tickets_api = "api.tickets"
    login = _module("api.auth.login")
    create_ticket = _module(f"{tickets_api}.create_ticket")
    list_tickets = _module(f"{tickets_api}.list_tickets")
    get_ticket = _module(f"{tickets_api}.get_ticket")
    update_ticket = _module(f"{tickets_api}.update_ticket")
    create_comment = _module(f"{tickets_api}.create_comment")
    list_comments = _module(f"{tickets_api}.list_comments")

    url = local_stack["url"]
    agent = _user(local_stack, "AGENT")
    anonymous = client_module.Client(base_url=url, raise_on_unexpected_status=True)

    # Login: typed body in, typed session out (expiresAt parsed as an aware datetime).
    session = login.sync_detailed(
        client=anonymous,
        body=models.LoginBody(
            organization=agent["organization"], email=agent["email"], password=agent["password"]
        ),
    )
    assert session.status_code == 200
    assert isinstance(session.parsed, models.LoginOut)
    assert session.parsed.user.email == agent["email"]
    assert isinstance(session.parsed.expires_at, datetime)
    now = datetime.now(UTC)
    assert now < session.parsed.expires_at <= now + timedelta(hours=1, minutes=1)
    api = client_module.AuthenticatedClient(
        base_url=url, token=session.parsed.token, raise_on_unexpected_status=True
    )

    # Create, with an Idempotency-Key: a retry returns the same ticket.
    subject = f"Generated client {uuid.uuid4().hex[:8]}"
    body = models.CreateTicket(subject=subject, body="Printer on **fire**")
    key = f"e2e-{uuid.uuid4().hex}"
    created = create_ticket.sync_detailed(client=api, body=body, idempotency_key=key)
    assert created.status_code == 201, created.content
    ticket = created.parsed
    assert isinstance(ticket, models.TicketOut)
    assert ticket.subject == subject and "<strong>fire</strong>" in ticket.body_html
    assert isinstance(ticket.created_at, datetime) and ticket.created_at.utcoffset() == timedelta(0)
    assert created.headers["ETag"] == f'"{ticket.version}"'
    retried = create_ticket.sync_detailed(client=api, body=body, idempotency_key=key)
    assert retried.status_code == 201 and retried.parsed.id == ticket.id

    # List: the typed page holds the new ticket.
    page = list_tickets.sync(client=api, limit=100)
    assert isinstance(page, models.TicketOutPage)
    assert ticket.id in [item.id for item in page.items]

    # PATCH with If-Match from the ETag; a stale version is a typed 409.
    etag = get_ticket.sync_detailed(client=api, ticket_id=ticket.id).headers["ETag"]
    change = models.UpdateTicket(status=models.UpdateTicketStatusType0.PENDING)
    patched = update_ticket.sync_detailed(
        client=api, ticket_id=ticket.id, body=change, if_match=etag
    )
    assert patched.status_code == 200, patched.content
    assert patched.parsed.status == models.TicketOutStatus.PENDING
    assert patched.parsed.version == ticket.version + 1
    assert patched.headers["ETag"] == f'"{ticket.version + 1}"'
    stale = update_ticket.sync_detailed(client=api, ticket_id=ticket.id, body=change, if_match=etag)
    assert stale.status_code == 409
    assert isinstance(stale.parsed, models.Error) and stale.parsed.error.code == "CONFLICT"
    # A blank If-Match is no precondition at all: 428, in the contract's shape.
    missing = update_ticket.sync_detailed(client=api, ticket_id=ticket.id, body=change, if_match="")
    assert missing.status_code == 428
    assert missing.parsed.error.code == "PRECONDITION_REQUIRED"

    # Comment, and read it back through the typed list.
    comment = create_comment.sync(
        client=api, ticket_id=ticket.id, body=models.CreateComment(body="On it.")
    )
    assert isinstance(comment, models.CommentOut) and comment.ticket_id == ticket.id
    comments = list_comments.sync(client=api, ticket_id=ticket.id)
    assert [c.id for c in comments.items] == [comment.id]

    # A typed 404: the shared Error model, parsed.
    unknown = get_ticket.sync_detailed(client=api, ticket_id=uuid.uuid4().hex)
    assert unknown.status_code == 404
    assert isinstance(unknown.parsed, models.Error)
    assert unknown.parsed.error.code == "NOT_FOUND" and unknown.parsed.error.message


def test_generated_client_is_built_from_stable_names(generated: ModuleType) -> None:
    """Functions and models are named after operationIds and components, not after paths."""
    tickets_dir = Path(generated.__file__).parent / "api" / "tickets"
    names = {path.stem for path in tickets_dir.glob("*.py")} - {"__init__"}
    assert {"create_ticket", "list_tickets", "get_ticket", "update_ticket"} <= names
    assert not [name for name in names if name.startswith(("get_api", "post_api", "patch_api"))]
    models_dir = Path(generated.__file__).parent / "models"
    per_status = [p.stem for p in models_dir.glob("*.py") if "_response_4" in p.stem]
    assert per_status == [], "error models per operation and status"
