"""Our per-request overhead: the API Lambda's handler with every AWS call answered by a fake.

For each route a request is made once against moto while every botocore call's response is
recorded; then the same Lambda event is replayed through `app(event, context)` (what Lambda
invokes: middleware, RBAC gate, handler, serialization) with `BaseClient._make_api_call` answering
from the recording, so network and moto cost nothing and what is timed is our code plus the
libraries it drives. The authorizer runs in its own Lambda and is benchmarked separately.

Routes need a request to replay: EXAMPLES maps (METHOD, path) to one; routes without an entry
that take no body and no path parameters are called as-is; others are reported as missing.
Login is included at the BCRYPT_ROUNDS set here (4): its cost is bcrypt, measured at cost 12 by
bench/login_latency.py. Goal: median <= 2 ms per route.

Why one module of this size: it holds one fake per AWS call the routes make and one request
builder per route, so the table covers every route.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import table_cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
    }
)

# (METHOD, path) -> a function of the seeded context -> (path to call, JSON body, user key) or
# (path, body, user key, extra request headers). Objects the path names are made on first use
# through the real services (helpers below) and kept in the context.
Example = Callable[[dict[str, Any]], tuple[Any, ...]]
ORG = "bench-org"


def _principal(ctx: dict[str, Any], user_key: str) -> Any:
    from chalicelib.authz.principal import Principal, Role

    return Principal(user_id=ctx[user_key]["id"], organization_id=ORG, role=Role(user_key.upper()))


def _ticket(ctx: dict[str, Any], name: str = "ticket") -> str:
    """A ticket of the requester (every role sees it)."""
    if name not in ctx:
        from chalicelib.tickets import service
        from chalicelib.tickets.schemas import CreateTicket

        data = CreateTicket(subject="Bench ticket", body="The printer is *on fire*.")
        ctx[name] = service.create_ticket(_principal(ctx, "requester"), data).id
    return str(ctx[name])


def _attachment(ctx: dict[str, Any], name: str) -> str:
    """An attachment the requester uploaded, stored and marked CLEAN (as the scanner would)."""
    if name not in ctx:
        from chalicelib.attachments import service, storage
        from chalicelib.attachments.models import AttachmentItem, attachment_sk
        from chalicelib.core.org_keys import org_pk
        from chalicelib.core.settings import get_settings

        ticket_id = _ticket(ctx)
        grant = service.create_upload(
            _principal(ctx, "requester"),
            ticket_id,
            filename="notes.txt",
            content_type="text/plain",
            size=5,
        )
        key = grant.fields["key"]
        put = storage.s3().put_object(Bucket=get_settings().uploads_bucket, Key=key, Body=b"hello")
        record = AttachmentItem.get(org_pk(ORG), attachment_sk(ticket_id, grant.attachment.id))
        record.update(
            actions=[
                AttachmentItem.status.set("CLEAN"),
                AttachmentItem.sniffed_type.set("text/plain"),
                AttachmentItem.version_id.set(put.get("VersionId") or "null"),
                AttachmentItem.size.set(5),
            ]
        )
        ctx[name] = grant.attachment.id
    return str(ctx[name])


def _api_token(ctx: dict[str, Any], name: str) -> str:
    if name not in ctx:
        from chalicelib.identity import api_tokens

        issued = api_tokens.create_token(
            _principal(ctx, "admin"), name=name, scopes=["tickets:read"], expires_in_days=30
        )
        ctx[name] = issued.item.token_id
    return str(ctx[name])


def _version(ctx: dict[str, Any], ticket_id: str) -> dict[str, str]:
    from chalicelib.tickets import repository

    item = repository.get_ticket(ORG, ticket_id)
    assert item is not None
    return {"if-match": f'"{int(item.version)}"'}


def _logout(ctx: dict[str, Any]) -> tuple[Any, ...]:
    """Logout with a session of its own (it revokes that session, not the admin's)."""
    from chalicelib.auth.sessions import issue_session
    from chalicelib.authz.principal import Role

    ctx["leaving"] = {
        **ctx["admin"],
        "token": issue_session(ctx["admin"]["id"], ORG, Role.ADMIN).token,
    }
    return "/api/auth/logout", None, "leaving"


def _attachment_path(ctx: dict[str, Any], name: str, suffix: str = "") -> str:
    return f"/api/tickets/{_ticket(ctx)}/attachments/{_attachment(ctx, name)}{suffix}"


EXAMPLES: dict[tuple[str, str], Example] = {
    ("POST", "/api/auth/login"): lambda ctx: (
        "/api/auth/login",
        {"organization": ORG, "email": ctx["admin"]["email"], "password": ctx["admin"]["password"]},
        None,
    ),
    ("POST", "/api/auth/logout"): _logout,
    ("POST", "/api/tickets"): lambda ctx: (
        "/api/tickets",
        {"subject": "Bench ticket", "body": "It *burns*.", "tags": ["printer"]},
        "requester",
    ),
    ("POST", "/api/tickets/bulk"): lambda ctx: (
        "/api/tickets/bulk",
        {"action": "set_priority", "priority": "HIGH", "ids": [_ticket(ctx, "bulk ticket")]},
        "agent",
    ),
    ("GET", "/api/tickets/{ticket_id}"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx)}",
        None,
        "requester",
    ),
    ("PATCH", "/api/tickets/{ticket_id}"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx, 'patched ticket')}",
        {"subject": "Renamed"},
        "requester",
        _version(ctx, _ticket(ctx, "patched ticket")),
    ),
    ("POST", "/api/tickets/{ticket_id}/comments"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx)}/comments",
        {"body": "A *reply*."},
        "requester",
    ),
    ("GET", "/api/tickets/{ticket_id}/comments"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx)}/comments",
        None,
        "agent",
    ),
    ("POST", "/api/tickets/{ticket_id}/attachments"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx)}/attachments",
        {"filename": "report.pdf", "contentType": "application/pdf", "size": 2048},
        "requester",
    ),
    ("GET", "/api/tickets/{ticket_id}/attachments"): lambda ctx: (
        f"/api/tickets/{_ticket(ctx)}/attachments",
        None,
        "requester",
    ),
    ("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}"): lambda ctx: (
        _attachment_path(ctx, "kept attachment"),
        None,
        "requester",
    ),
    ("GET", "/api/tickets/{ticket_id}/attachments/{attachment_id}/download"): lambda ctx: (
        _attachment_path(ctx, "kept attachment", "/download"),
        None,
        "requester",
    ),
    ("DELETE", "/api/tickets/{ticket_id}/attachments/{attachment_id}"): lambda ctx: (
        _attachment_path(ctx, "deleted attachment"),
        None,
        "requester",
    ),
    ("POST", "/api/admin/users"): lambda ctx: (
        "/api/admin/users",
        {
            "email": "invitee@bench.example",
            "name": "Invitee",
            "role": "AGENT",
            "password": "bench-password-long",  # pragma: allowlist secret
        },
        "admin",
    ),
    ("GET", "/api/admin/users/{user_id}"): lambda ctx: (
        f"/api/admin/users/{ctx['agent']['id']}",
        None,
        "admin",
    ),
    ("PATCH", "/api/admin/users/{user_id}"): lambda ctx: (
        f"/api/admin/users/{ctx['agent']['id']}",
        {"name": "Renamed agent"},
        "admin",
    ),
    ("POST", "/api/admin/tokens"): lambda ctx: (
        "/api/admin/tokens",
        {"name": "ci", "scopes": ["tickets:read"], "expiresInDays": 30},
        "admin",
    ),
    ("POST", "/api/admin/tokens/{token_id}/rotate"): lambda ctx: (
        f"/api/admin/tokens/{_api_token(ctx, 'rotated token')}/rotate",
        None,
        "admin",
    ),
    ("DELETE", "/api/admin/tokens/{token_id}"): lambda ctx: (
        f"/api/admin/tokens/{_api_token(ctx, 'revoked token')}",
        None,
        "admin",
    ),
}


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RecordReplay:
    """Patches botocore's `BaseClient._make_api_call`: records real (moto) answers, then replays
    them in order, so a replayed request makes no AWS call at all."""

    def __init__(self) -> None:
        import botocore.client

        self._client_cls = botocore.client.BaseClient
        self._real = botocore.client.BaseClient._make_api_call
        self.recorded: list[Any] = []
        self._position = 0

    def record(self) -> None:
        real, recorded = self._real, self.recorded

        def call(client: Any, operation: str, params: Any) -> Any:
            response = real(client, operation, params)
            recorded.append(response)
            return response

        self._client_cls._make_api_call = call

    def replay(self) -> None:
        def call(client: Any, operation: str, params: Any) -> Any:
            response = self.recorded[self._position % len(self.recorded)]
            self._position += 1
            return response

        self._client_cls._make_api_call = call

    def restore(self) -> None:
        self._client_cls._make_api_call = self._real


def seed(client: Any) -> dict[str, Any]:
    """One organization with a user of each role, logged in."""
    from chalicelib.authz.principal import Role
    from chalicelib.identity import users

    users.create_organization(ORG, "Bench")
    ctx: dict[str, Any] = {}
    for role in Role:
        email, password = f"{role.value.lower()}@bench.example", "bench-password-1"
        user = users.create_user(ORG, email=email, name=role.value, role=role, password=password)
        body = {"organization": ORG, "email": email, "password": password}
        login = client.post("/api/auth/login", json=body)
        ctx[role.value.lower()] = {
            "id": user.id,
            "email": email,
            "password": password,
            "token": login.json["token"],
        }
    return ctx


def time_route(
    app: Any, client: Any, ctx: dict[str, Any], method: str, path: str, *, iterations: int
) -> dict[str, Any]:
    from chalice.local import LambdaContext

    from chalicelib.auth.authorizer import authenticate

    route = f"{method} {path}"
    example = EXAMPLES.get((method, path))
    if example is None and ("{" in path or method in {"POST", "PUT", "PATCH"}):
        return {"route": route, "missing": True}
    url, body, user_key, *extra = example(ctx) if example else (path, None, "admin")
    raw = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json", **(extra[0] if extra else {})}
    if raw is not None:
        headers["content-length"] = str(len(raw))
    event = client.gateway._generate_lambda_event(method, url, headers, raw)
    event["requestContext"]["requestId"] = "bench"
    if app.routes[path][method].authorizer is not None and user_key:
        principal = authenticate(f"Bearer {ctx[user_key]['token']}")
        event["requestContext"]["authorizer"] = principal.to_authorizer_context()
    fake = RecordReplay()
    fake.record()
    try:
        first = app(event, LambdaContext("api", 512))
        fake.replay()
        timings = []
        for index in range(iterations + 20):
            started = time.perf_counter()
            response = app(event, LambdaContext("api", 512))
            if index >= 20:
                timings.append(time.perf_counter() - started)
    finally:
        fake.restore()
    assert response["statusCode"] == first["statusCode"], (route, response)
    return {
        "route": route,
        "status": first["statusCode"],
        "aws_calls": len(fake.recorded),
        "median_ms": statistics.median(timings) * 1000,
        "p99_ms": _percentile(timings, 0.99) * 1000,
    }


def measure(iterations: int) -> list[dict[str, Any]]:
    from moto import mock_aws

    with mock_aws():
        import app as app_module
        from chalicelib.tables import create_tables
        from devstack.client import ApiClient
        from devstack.resources import create_buckets

        create_tables()
        create_buckets()
        app = app_module.app
        client = ApiClient(app)
        ctx = seed(client)
        return [
            time_route(app, client, ctx, method, path, iterations=iterations)
            for path in sorted(app.routes)
            for method in sorted(app.routes[path])
        ]


def rows(results: list[dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for result in results:
        if result.get("missing"):
            out.append(
                {
                    "area": "request overhead",
                    "measure": f"{result['route']}",
                    "value": "no example: add one to bench/request_overhead.py EXAMPLES",
                    "goal": "<= 2 ms median",
                    "met": "n/a",
                }
            )
            continue
        login = result["route"] == "POST /api/auth/login"
        note = " (bcrypt cost 4; see login latency)" if login else ""
        out.append(
            {
                "area": "request overhead",
                "measure": (
                    f"{result['route']} -> {result['status']}, "
                    f"{result['aws_calls']} AWS calls faked{note}"
                ),
                "value": f"median {result['median_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms",
                "goal": "<= 2 ms median",
                "met": "n/a" if login else ("yes" if result["median_ms"] <= 2 else "no"),
            }
        )
    return out


def main() -> None:
    table_cli.run(
        __doc__, measure, rows, count_flag="--iterations", default=300, first_header="route"
    )


if __name__ == "__main__":
    main()
