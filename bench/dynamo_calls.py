"""DynamoDB round trips per request for every ticket and comment route, against moto.

A botocore `before-call.dynamodb` hook (installed for every session, like moto's own stubber)
records each DynamoDB operation. Calls made before the RBAC gate (the authorizer) are counted
apart from the route's own calls. Each route runs against an organization with 10 tickets and
one with 5,000, seeded with the repository's batch writer (`--seed-in-memory`: the same items
put straight into moto's in-memory table, see `seed_in_memory`; the counts do not depend on
it); the directory and ticket-view rows run against an organization with 10 people and one
with 5,000 (users and directory entries batch-written). Prints two tables.

    .venv/bin/python bench/dynamo_calls.py
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DESKGUARD_STAGE": "test",
        "BCRYPT_ROUNDS": "4",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Deskguard",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import botocore.handlers  # noqa: E402

_calls: list[tuple[str, str]] = []
_phase = ["gateway"]


def _count(model: Any = None, **_: Any) -> None:
    _calls.append((_phase[0], model.name if model is not None else "?"))


# Every botocore session built from now on (pynamodb's and Powertools' included) gets the hook.
botocore.handlers.BUILTIN_HANDLERS.append(("before-call.dynamodb", _count))

from moto import mock_aws  # noqa: E402

SIZES = (10, 5000)


def _seed_people(org: Any, count: int) -> None:
    """`count` more people (requesters, every 10th an agent) with their e-mail claims and
    directory entries, written in batches (no bcrypt, no transactions: only the reads are
    measured)."""
    from datetime import UTC, datetime

    from chalicelib.core.org_keys import org_pk
    from chalicelib.identity import users
    from chalicelib.identity.models import EMAIL_PREFIX, USER_PREFIX, EmailClaimModel, UserModel

    with UserModel.batch_write() as batch:
        for i in range(count):
            user_id = f"{i:032x}"
            email = f"person{i:05d}@people.example"
            item = UserModel(
                org_pk(org.id),
                f"{USER_PREFIX}{user_id}",
                user_id=user_id,
                gsi_user=user_id,
                organization_id=org.id,
                email=email,
                name=f"Person {i:05d}",
                role="AGENT" if i % 10 == 0 else "REQUESTER",
                password_hash="-",  # noqa: S106 (no password: never logged in to)
                active=True,
                created_at=datetime.now(UTC),
            )
            batch.save(item)
            batch.save(
                EmailClaimModel(
                    org_pk(org.id),
                    f"{EMAIL_PREFIX}{email}",
                    organization_id=org.id,
                    user_id=user_id,
                )
            )
            for entry in users.directory_entries(item).values():
                batch.save(entry)


def _measure_people(org: Any, client: Any) -> dict[str, tuple[int, int, str, int]]:
    """The directory and a ticket view (names resolved) in an organization of any size."""
    rows: dict[str, tuple[int, int, str, int]] = {}

    def run(label: str, path: str, user: Any) -> Any:
        _calls.clear()
        _phase[0] = "gateway"
        response = client.request("GET", path, token=user.token)
        route = [op for phase, op in _calls if phase == "route"]
        gateway = [op for phase, op in _calls if phase == "gateway"]
        ops = ", ".join(f"{op}x{n}" if n > 1 else op for op, n in Counter(route).items())
        rows[label] = (len(route), len(gateway), ops, response.status)
        return response

    agent, requester = org.agent, org.requester
    ticket = client.post(
        "/api/tickets", json={"subject": "Names", "body": "x"}, token=requester.token
    ).json
    client.patch(
        f"/api/tickets/{ticket['id']}",
        json={"assigneeId": agent.id},
        token=agent.token,
        headers={"If-Match": str(ticket["version"])},
    )
    client.post(f"/api/tickets/{ticket['id']}/comments", json={"body": "hi"}, token=agent.token)
    first = run("GET /users (page 1, limit 5)", "/api/users?limit=5", agent).json
    run(
        "GET /users (page 2 via cursor)",
        f"/api/users?limit=5&cursor={first['nextCursor']}",
        agent,
    )
    run("GET /users?q=person0 (name and e-mail match)", "/api/users?q=person0", agent)
    run("GET /users?role=AGENT", "/api/users?role=AGENT", agent)
    run("GET /users?role=AGENT&q=agent", "/api/users?role=AGENT&q=agent", agent)
    run("GET /users/{id}", f"/api/users/{requester.id}", agent)
    run("GET /tickets/{id} (ticket view, names)", f"/api/tickets/{ticket['id']}", requester)
    run("GET /tickets (list, names)", "/api/tickets", agent)
    run("GET /tickets/{id}/comments (names)", f"/api/tickets/{ticket['id']}/comments", requester)
    return rows


def _print(results: dict[int, dict[str, tuple[int, int, str, int]]], noun: str) -> None:
    small, large = results[SIZES[0]], results[SIZES[1]]
    width = max(len(label) for label in small)
    heads = (f"10 {noun}", f"5,000 {noun}")
    print(
        f"{'route':<{width}} | {heads[0]:>10} | {heads[1]:>13} | auth | status | operations (5,000)"
    )
    print("-" * (width + 90))
    for label, (calls, auth, _ops, status) in small.items():
        big_calls, _big_auth, big_ops, big_status = large[label]
        same = "" if calls == big_calls else "  <-- differs"
        print(
            f"{label:<{width}} | {calls:>10} | {big_calls:>13} | {auth:>4} | "
            f"{status}/{big_status} | {big_ops}{same}"
        )


def _seed(org: Any, count: int) -> list[str]:
    from chalicelib.tickets.models import Priority, TagModel, TermModel, TicketModel, new_id
    from chalicelib.tickets.search_terms import text_terms

    items: list[Any] = []
    ids: list[str] = []
    for i in range(count):
        body = "seeded printer" if i % 2 else "seeded"
        ticket = TicketModel.new(
            org.id,
            requester_id=org.requester.id,
            subject=f"seeded {i}",
            body_markdown=body,
            body_html="<p>seeded</p>",
            priority=Priority.ALL[i % 4],
            tags=["seed"],
            now="2025-01-01T00:00:00.000+00:00",
            ticket_id=new_id(),
        )
        ticket.version = 1
        items.append(ticket)
        items.append(TagModel.for_ticket(org.id, ticket.ticket_id, "seed"))
        items.extend(
            TermModel.for_ticket(org.id, ticket.ticket_id, org.requester.id, term, public=True)
            for term in text_terms([ticket.subject, body])
        )
        ids.append(ticket.ticket_id)
    _put_items(items)
    return ids


def _put_items(items: list[Any]) -> None:
    from chalicelib.tickets import repository

    repository.put_tickets(items)


def seed_in_memory(org: Any, count: int) -> list[str]:
    """`_seed`'s items put straight into moto's in-memory table (serialized attributes through
    `Table.put_item`), skipping moto's HTTP handling of BatchWriteItem. For seeding only: the
    measured requests still go through boto3 and moto as usual."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.core.settings import get_settings
    from chalicelib.tickets.models import TicketsItem

    global _put_items
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][get_settings().region]
    table = backend.get_table(TicketsItem.Meta.table_name)
    through_api = _put_items

    def put_in_memory(items: list[Any]) -> None:
        for item in items:
            table.put_item(item.serialize())

    _put_items = put_in_memory
    try:
        return _seed(org, count)
    finally:
        _put_items = through_api


def _measure(org: Any, ids: list[str], client: Any) -> dict[str, tuple[int, int, str, int]]:
    """route label -> (route calls, authorizer calls, operations, status)."""
    rows: dict[str, tuple[int, int, str, int]] = {}

    def run(label: str, method: str, path: str, user: Any, **kwargs: Any) -> Any:
        _calls.clear()
        _phase[0] = "gateway"
        response = client.request(method, path, token=user.token, **kwargs)
        route = [op for phase, op in _calls if phase == "route"]
        gateway = [op for phase, op in _calls if phase == "gateway"]
        ops = ", ".join(f"{op}x{n}" if n > 1 else op for op, n in Counter(route).items())
        rows[label] = (len(route), len(gateway), ops, response.status)
        return response

    agent, requester = org.agent, org.requester
    body = {"subject": "Bench", "body": "**bench**", "tags": ["seed"]}
    created = run("POST /tickets", "POST", "/api/tickets", requester, json=body).json
    key = {"Idempotency-Key": f"bench-key-{org.id}"}
    run(
        "POST /tickets + Idempotency-Key (first)",
        "POST",
        "/api/tickets",
        requester,
        json=body,
        headers=key,
    )
    run(
        "POST /tickets + Idempotency-Key (replay)",
        "POST",
        "/api/tickets",
        requester,
        json=body,
        headers=key,
    )
    tid = created["id"]
    run("GET /tickets/{id}", "GET", f"/api/tickets/{tid}", requester)
    first = run("GET /tickets (staff, page 1)", "GET", "/api/tickets?limit=5", agent).json
    run(
        "GET /tickets (staff, page 2 via cursor)",
        "GET",
        f"/api/tickets?limit=5&cursor={first['nextCursor']}",
        agent,
    )
    run("GET /tickets (requester)", "GET", "/api/tickets", requester)
    run(
        "GET /tickets?status=OPEN&priority=HIGH",
        "GET",
        "/api/tickets?status=OPEN&priority=HIGH",
        agent,
    )
    run("GET /tickets?tag=seed", "GET", "/api/tickets?tag=seed", agent)
    run(
        "GET /tickets?status=OPEN,PENDING&sort=-updatedAt",
        "GET",
        "/api/tickets?status=OPEN,PENDING&sort=-updatedAt&limit=25",
        agent,
    )
    run(
        "GET /tickets?priority=HIGH,URGENT&sort=-priority",
        "GET",
        "/api/tickets?priority=HIGH,URGENT&sort=-priority&limit=25",
        agent,
    )
    run(
        "GET /tickets?status=OPEN&sort=updatedAt (requester)",
        "GET",
        "/api/tickets?status=OPEN&sort=updatedAt&limit=25",
        requester,
    )
    run(
        "GET /tickets?sort=dueAt",
        "GET",
        "/api/tickets?status=OPEN&sort=dueAt&limit=25",
        agent,
    )
    run(
        "GET /tickets?slaState=at_risk,breached",
        "GET",
        "/api/tickets?slaState=at_risk,breached&limit=25",
        agent,
    )
    run("GET /tickets?groupId=mine", "GET", "/api/tickets?groupId=mine&limit=25", agent)
    run("GET /tickets?q=seeded (one word)", "GET", "/api/tickets?q=seeded&limit=25", agent)
    run(
        "GET /tickets?q=seeded+printer (two words)",
        "GET",
        "/api/tickets?q=seeded%20printer&limit=25",
        agent,
    )
    run("GET /tickets?q=see* (prefix)", "GET", "/api/tickets?q=see*&limit=25", agent)
    run("GET /tickets?q=seeded (requester)", "GET", "/api/tickets?q=seeded&limit=25", requester)
    run("GET /tickets?assigneeId=...", "GET", f"/api/tickets?assigneeId={agent.id}", agent)
    patched = run(
        "PATCH /tickets/{id} (status)",
        "PATCH",
        f"/api/tickets/{tid}",
        agent,
        json={"status": "PENDING"},
        headers={"If-Match": "1"},
    ).json
    run(
        "PATCH /tickets/{id} (assign + tags)",
        "PATCH",
        f"/api/tickets/{tid}",
        agent,
        json={"assigneeId": agent.id, "tags": ["vpn"]},
        headers={"If-Match": str(patched["version"])},
    )
    run(
        "PATCH /tickets/{id} (stale If-Match: 409)",
        "PATCH",
        f"/api/tickets/{tid}",
        agent,
        json={"status": "OPEN"},
        headers={"If-Match": "1"},
    )
    for i in range(3):
        client.post(f"/api/tickets/{tid}/comments", json={"body": f"c{i}"}, token=agent.token)
    run(
        "POST /tickets/{id}/comments",
        "POST",
        f"/api/tickets/{tid}/comments",
        requester,
        json={"body": "reply"},
    )
    run(
        "POST /tickets/{id}/comments (internal)",
        "POST",
        f"/api/tickets/{tid}/comments",
        agent,
        json={"body": "note", "internal": True},
    )
    page = run(
        "GET /tickets/{id}/comments (page 1)",
        "GET",
        f"/api/tickets/{tid}/comments?limit=2",
        requester,
    ).json
    run(
        "GET /tickets/{id}/comments (page 2)",
        "GET",
        f"/api/tickets/{tid}/comments?limit=2&cursor={page['nextCursor']}",
        requester,
    )
    into = client.post("/api/tickets", json=body, token=requester.token).json["id"]
    source = client.get(f"/api/tickets/{tid}", token=agent.token).json
    run(
        "POST /tickets/{id}/merge",
        "POST",
        f"/api/tickets/{tid}/merge",
        agent,
        json={"intoId": into},
        headers={"If-Match": str(source["version"])},
    )
    merged_page = run(
        "GET /tickets/{id}/comments (merged target, page 1)",
        "GET",
        f"/api/tickets/{into}/comments?limit=2",
        requester,
    ).json
    run(
        "GET /tickets/{id}/comments (merged target, page 2)",
        "GET",
        f"/api/tickets/{into}/comments?limit=2&cursor={merged_page['nextCursor']}",
        requester,
    )
    run(
        "GET /tickets/{id}/attachments (merged target)",
        "GET",
        f"/api/tickets/{into}/attachments",
        requester,
    )
    run(
        "POST /tickets/bulk (10 ids)",
        "POST",
        "/api/tickets/bulk",
        agent,
        json={"ids": ids[:10], "action": "set_priority", "priority": "URGENT"},
    )
    hundred = (ids + [f"{n:032x}" for n in range(100)])[:100]
    run(
        "POST /tickets/bulk (100 ids)",
        "POST",
        "/api/tickets/bulk",
        agent,
        json={"ids": hundred, "action": "set_priority", "priority": "LOW"},
    )
    return rows


def main() -> None:
    import argparse

    from chalicelib.authz import policy

    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-in-memory", action="store_true")
    args = parser.parse_args()
    seed = seed_in_memory if args.seed_in_memory else _seed

    real_check = policy.check

    def marked_check(*args: Any, **kwargs: Any) -> Any:
        _phase[0] = "route"  # the authorizer has run; from here on the route's own calls
        return real_check(*args, **kwargs)

    policy.check = marked_check  # type: ignore[assignment]
    results: dict[int, dict[str, tuple[int, int, str, int]]] = {}
    people: dict[int, dict[str, tuple[int, int, str, int]]] = {}
    with mock_aws():
        import app as app_module
        from chalicelib.tables import create_tables
        from devstack.client import ApiClient
        from devstack.resources import create_buckets
        from tests.support.orgs import OrgFactory

        create_tables()
        create_buckets()
        client = ApiClient(app_module.app)
        factory = OrgFactory(client)
        for size in SIZES:
            org = factory()
            ids = seed(org, size)
            results[size] = _measure(org, ids, client)
        for size in SIZES:
            org = factory()
            _seed_people(org, size - 3)  # the factory's admin, agent and requester count too
            people[size] = _measure_people(org, client)

    _print(results, "tickets")
    print()
    _print(people, "people")


if __name__ == "__main__":
    main()
