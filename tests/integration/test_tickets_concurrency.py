"""Optimistic concurrency: N writers holding the same version race; exactly one wins.

The writers call the ticket service from threads (Chalice keeps `current_request` on the app
object, so its in-process gateway cannot serve concurrent requests). Real DynamoDB applies a
transaction atomically; moto does not lock, so the test serializes moto's TransactWriteItems
(and the item puts and deletes of BatchWriteItem, which race moto's table copy) the way
DynamoDB isolates them — the race between reading the version and writing stays fully open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from moto.dynamodb.models import DynamoDBBackend

from chalicelib.audit import log as audit_log
from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict
from chalicelib.core.org_keys import org_pk
from chalicelib.tickets import service
from chalicelib.tickets.models import TICKET_SK, TicketModel, ticket_pk
from chalicelib.tickets.schemas import UpdateTicket
from tests.support.orgs import TestOrg
from tests.support.tickets import create_ticket

WRITERS = 8


@pytest.fixture
def atomic_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    # moto's transaction deep-copies the tables, so a batch write (the search index's puts) running
    # beside it breaks the copy; both go through the one lock, as DynamoDB isolates them.
    lock = threading.RLock()
    for name in ("transact_write_items", "put_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.mark.usefixtures("atomic_transactions")
def test_same_version_exactly_one_wins(client: Any, make_org: Callable[..., TestOrg]) -> None:
    org = make_org()
    ticket = create_ticket(client, org.requester)
    agents = [org.agent, org.admin] + [org.add_user(org.agent.role) for _ in range(WRITERS - 2)]
    barrier = threading.Barrier(WRITERS)
    outcomes: dict[str, str] = {}

    def write(index: int) -> None:
        user = agents[index]
        principal = Principal(user.id, org.id, user.role)
        patch = UpdateTicket(subject=f"writer {index}", assigneeId=user.id)
        barrier.wait()
        try:
            service.update_ticket(principal, ticket["id"], patch, if_match=1)
            outcomes[str(index)] = "ok"
        except Conflict:
            outcomes[str(index)] = "conflict"
        except Exception as error:
            outcomes[str(index)] = repr(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    winners = [i for i, outcome in outcomes.items() if outcome == "ok"]
    assert sorted(outcomes.values()) == ["conflict"] * (WRITERS - 1) + ["ok"], outcomes
    stored = TicketModel.get(ticket_pk(org.id, ticket["id"]), TICKET_SK)
    winner = int(winners[0])
    assert (stored.subject, stored.assignee_id, int(stored.version)) == (
        f"writer {winner}",
        agents[winner].id,
        2,
    )
    records = [
        record
        for record in audit.AuditRecordModel.query(
            org_pk(org.id), audit.AuditRecordModel.sk.startswith(audit.RECORD_PREFIX)
        )
        if record.action != "user.create"  # make_org's and add_user's own records
    ]
    # The create and exactly one update are audited; the chain is unbroken.
    assert [record.action for record in records] == ["ticket.create", "ticket.assign"]
    assert records[1].actor_id == agents[winner].id
    report = audit_log.verify_chain(org.id)
    assert report.ok and report.first_broken is None


AUDIT_WRITERS = 32
WRITES_EACH = 10


@pytest.mark.usefixtures("atomic_transactions")
def test_32_writers_in_one_organization_all_succeed_and_chain(
    client: Any, make_org: Callable[..., TestOrg]
) -> None:
    """32 concurrent writers x 10 audited writes (a create, then comments and patches on that
    writer's own ticket): every write succeeds, and once the chainer has caught up the chain
    verifies and holds exactly those records (plus the organization's setup records)."""
    from chalicelib.core import settings
    from chalicelib.tickets.schemas import CreateComment, CreateTicket
    from tests.support.audit import ORG_SETUP_RECORDS, chain_all

    org = make_org()
    principal = Principal(org.agent.id, org.id, org.agent.role)
    barrier = threading.Barrier(AUDIT_WRITERS)
    failures: list[str] = []
    written: list[str] = []

    def write(index: int) -> None:
        barrier.wait()
        try:
            ticket = service.create_ticket(principal, CreateTicket(subject=f"t{index}", body="b"))
            written.append("ticket.create")
            version = ticket.version
            for step in range(WRITES_EACH - 1):
                if step % 2 == 0:
                    body = CreateComment(body=f"note {step}", internal=step % 4 == 0)
                    service.add_comment(principal, ticket.id, body)
                    written.append("comment.internal_note" if body.internal else "comment.create")
                    # A comment changes the ticket (updatedAt), so its version moves on.
                    version = service.get_visible_ticket(principal, ticket.id).version
                else:
                    priority = "HIGH" if step % 4 == 1 else "LOW"
                    patch = UpdateTicket(priority=priority)
                    version = service.update_ticket(principal, ticket.id, patch, version).version
                    written.append("ticket.update")
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(AUDIT_WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    assert len(written) == AUDIT_WRITERS * WRITES_EACH

    with settings.override(audit_checkpoint_every_records=100):
        chain_all()  # checkpoints at 100, 200, 300 records
    with settings.override(audit_checkpoint_every_seconds=0):
        chain_all(sweep=True)  # the scheduled sweep anchors the quiet tail
    report = audit_log.verify_chain(org.id)
    assert report.ok, report.first_broken
    assert report.pending == 0
    assert report.checked == report.head_seq == ORG_SETUP_RECORDS + len(written)
    assert report.checkpoints == 4 and report.checkpoint_seq == report.head_seq
    records = [
        r
        for r in audit.AuditRecordModel.query(
            org_pk(org.id), audit.AuditRecordModel.sk.startswith(audit.RECORD_PREFIX)
        )
        if r.action != "user.create"
    ]
    assert sorted(r.action for r in records) == sorted(written)
    assert sorted(int(r.seq or 0) for r in records) == list(
        range(ORG_SETUP_RECORDS + 1, ORG_SETUP_RECORDS + len(written) + 1)
    )
