"""Optimistic concurrency: N writers holding the same version race; exactly one wins.

The writers call the ticket service from threads (Chalice keeps `current_request` on the app
object, so its in-process gateway cannot serve concurrent requests). Real DynamoDB applies a
transaction atomically; moto does not lock, so the test serializes moto's TransactWriteItems
the way DynamoDB does — the race between reading the version and writing stays fully open.
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
    lock = threading.Lock()
    original = DynamoDBBackend.transact_write_items

    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", locked)


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
            org_pk(org.id), audit.AuditRecordModel.sk.startswith(audit.SEQ_PREFIX)
        )
        if record.action != "user.create"  # make_org's and add_user's own records
    ]
    # The create and exactly one update are audited; the chain is unbroken.
    assert [record.action for record in records] == ["ticket.create", "ticket.assign"]
    assert records[1].actor_id == agents[winner].id
    report = audit_log.verify_chain(org.id)
    assert report.ok and report.first_broken is None
