"""The SLA breach sweep: tickets whose due time passed unmet are marked breached, once.

The queue is the sparse `by_sla_due` index (only tickets with a running clock carry its keys),
read shard by shard with a key condition `sla_due_sk <= now`: the sweep touches only overdue
tickets and never scans. Each breached target is one transaction: the ticket's breach mark
(conditioned on the mark being absent, the due time being the one read and its clock still
running), one `ticket.sla_breached` outbox event and one audit record. A re-run, or a second
sweep running at the same time, fails the condition and writes nothing, so every ticket and
target gets exactly one event and one audit record.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.tickets import clock
from chalicelib.tickets.models import SLA_DUE_SHARDS, TicketModel, sla_due_key
from chalicelib.webhooks import events as webhook_events
from chalicelib.webhooks.models import EventModel

SWEEP_ACTOR = "system:sla"
FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
# Bounded work per run and shard; what is left is taken by the next run (oldest due first).
PAGE_SIZE = 100
MAX_TICKETS_PER_SHARD = 500


@dataclasses.dataclass
class SweepCounts:
    breached: int = 0  # targets marked breached by this run
    skipped: int = 0  # targets another writer changed first (met, moved, or already marked)


def _overdue_targets(item: TicketModel, now: str) -> list[str]:
    targets = []
    if (
        item.first_response_due_at
        and item.first_response_due_at <= now
        and not item.first_responded_at
        and not item.first_response_breached_at
    ):
        targets.append(FIRST_RESPONSE)
    if (
        item.resolution_due_at
        and item.resolution_due_at <= now
        and not item.sla_paused_at
        and not item.resolution_breached_at
    ):
        targets.append(RESOLUTION)
    return targets


def _breach(item: TicketModel, target: str, now: str) -> bool:
    """Mark one target breached with its event and audit record; False if a condition failed."""
    org = item.organization_id
    if target == FIRST_RESPONSE:
        due = str(item.first_response_due_at)
        condition: Any = (
            TicketModel.first_response_breached_at.does_not_exist()
            & (TicketModel.first_response_due_at == due)
            & TicketModel.first_responded_at.does_not_exist()
        )
        item.first_response_breached_at = now
        mark = TicketModel.first_response_breached_at.set(now)
    else:
        due = str(item.resolution_due_at)
        condition = (
            TicketModel.resolution_breached_at.does_not_exist()
            & (TicketModel.resolution_due_at == due)
            & TicketModel.sla_paused_at.does_not_exist()
        )
        item.resolution_breached_at = now
        mark = TicketModel.resolution_breached_at.set(now)
    next_due = item.running_sla_due()
    actions: list[Any] = [mark]
    if next_due:
        actions += [
            TicketModel.gsi_sla_due.set(sla_due_key(item.ticket_id)),
            TicketModel.sla_due_sk.set(f"{next_due}#{item.ticket_id}"),
        ]
    else:
        actions += [TicketModel.gsi_sla_due.remove(), TicketModel.sla_due_sk.remove()]
    event = webhook_events.outbox_item(
        org,
        webhook_events.TICKET_SLA_BREACHED,
        {
            "ticketId": item.ticket_id,
            "target": target,
            "dueAt": due,
            "breachedAt": now,
            "priority": item.priority,
            "status": item.status,
        },
    )

    def build(tx: TransactWrite) -> None:
        tx.update(item, actions=actions, condition=condition, add_version_condition=False)
        tx.save(event, condition=EventModel.pk.does_not_exist())

    entry = audit.AuditEntry(
        organization_id=org,
        actor_id=SWEEP_ACTOR,
        action="ticket.sla_breached",
        target_type="ticket",
        target_id=item.ticket_id,
        after={"target": target, "dueAt": due},
    )
    try:
        audit.transact(entry, build)
    except TransactWriteError:
        return False  # met, moved or marked meanwhile (a concurrent sweep or a ticket write)
    return True


def sweep(now: str | None = None) -> SweepCounts:
    """Mark every target overdue at `now` (default: the clock) breached; one Query per page."""
    now = now or clock.now()
    counts = SweepCounts()
    for shard in range(SLA_DUE_SHARDS):
        overdue = TicketModel.by_sla_due.query(
            f"SLADUE#{shard}",
            TicketModel.sla_due_sk <= f"{now}#~",  # "~" sorts after every ticket id
            limit=MAX_TICKETS_PER_SHARD,
            page_size=PAGE_SIZE,
        )
        for item in overdue:
            if not isinstance(item, TicketModel):
                continue
            for target in _overdue_targets(item, now):
                if _breach(item, target, now):
                    counts.breached += 1
                else:
                    counts.skipped += 1
    return counts
