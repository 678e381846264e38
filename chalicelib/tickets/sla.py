"""SLA targets: the organization's business calendar and policy, and a ticket's SLA clocks.

An organization stores one business calendar and one SLA policy (items of the tickets table,
`SlaConfigModel`); both are changed by admins only, audited, in one transaction with their
audit record. Until a calendar is set, time counts 24/7 in UTC; until a policy is set, no ticket
has a target.

A ticket's clocks (`apply_to_ticket`, called by every ticket write that can change them):

- on create, the targets of its priority (the override of its `groupId`, when the ticket has
  one and the policy names it) set `firstResponseDueAt` and `resolutionDueAt`: that many
  business minutes after creation; a priority or group change recomputes both from the
  creation time;
- the first public staff reply stops the first-response clock (`firstRespondedAt`);
- RESOLVED or CLOSED stops the resolution clock (the target is met unless already breached),
  and so does PENDING when `pauseResolutionWhenPending`; when the ticket leaves the stopped
  state for OPEN or PENDING-without-pause, the resolution due time moves later by the business
  minutes it was stopped.

The breach sweep is `chalicelib.tickets.sla_sweep`.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.audit import trail as audit
from chalicelib.authz.principal import Principal
from chalicelib.core.errors import Conflict
from chalicelib.tickets import clock
from chalicelib.tickets.business_time import (
    ALWAYS_OPEN,
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
)
from chalicelib.tickets.models import SlaConfigModel, Status, TicketModel, sla_config_pk
from chalicelib.tickets.sla_schemas import WEEKDAYS, CalendarIn, PolicyIn

CALENDAR_SK = "CALENDAR"
POLICY_SK = "POLICY"
AT_RISK_SHARE = 0.8  # a target is at risk once 80% of its business minutes are used
DEFAULT_CALENDAR_BODY: dict[str, Any] = {
    "timeZone": "UTC",
    "workingHours": [{"day": day, "start": "00:00", "end": "24:00"} for day in WEEKDAYS],
    "holidays": [],
}
DEFAULT_POLICY_BODY: dict[str, Any] = {
    "targets": [],
    "groupOverrides": [],
    "pauseResolutionWhenPending": True,
}


@dataclasses.dataclass(frozen=True)
class SlaSettings:
    """What a ticket write needs: the calendar and the policy."""

    calendar: BusinessCalendar
    policy: PolicyIn

    def targets_for(self, priority: str, group_id: str | None) -> tuple[int | None, int | None]:
        """(first-response, resolution) business minutes for a ticket; None: no target."""
        targets = self.policy.targets
        if group_id is not None:
            for override in self.policy.groupOverrides:
                if override.groupId == group_id:
                    targets = override.targets
                    break
        for target in targets:
            if target.priority == priority:
                return target.firstResponseMinutes, target.resolutionMinutes
        return None, None


# --- Stored configuration --------------------------------------------------------------------


def _read(organization_id: str, sk: str) -> SlaConfigModel | None:
    try:
        return SlaConfigModel.get(sla_config_pk(organization_id), sk, consistent_read=True)
    except DoesNotExist:
        return None


def calendar_body(organization_id: str) -> dict[str, Any]:
    """The calendar as the API shows it (the 24/7 UTC default until one is set)."""
    item = _read(organization_id, CALENDAR_SK)
    body = json.loads(item.document) if item else dict(DEFAULT_CALENDAR_BODY)
    return body | {"updatedAt": item.updated_at if item else None}


def policy_body(organization_id: str) -> dict[str, Any]:
    """The policy as the API shows it (no targets until one is set)."""
    item = _read(organization_id, POLICY_SK)
    body = json.loads(item.document) if item else dict(DEFAULT_POLICY_BODY)
    return body | {"updatedAt": item.updated_at if item else None}


def load_settings(organization_id: str) -> SlaSettings:
    """The calendar and policy a ticket write applies (two consistent reads)."""
    calendar_item = _read(organization_id, CALENDAR_SK)
    policy_item = _read(organization_id, POLICY_SK)
    calendar = (
        CalendarIn.model_validate(json.loads(calendar_item.document)).to_calendar()
        if calendar_item
        else ALWAYS_OPEN
    )
    policy = PolicyIn.model_validate(
        json.loads(policy_item.document) if policy_item else DEFAULT_POLICY_BODY
    )
    return SlaSettings(calendar=calendar, policy=policy)


def _put(principal: Principal, sk: str, document: dict[str, Any], action: str) -> None:
    org = principal.organization_id
    before = _read(org, sk)
    item = before or SlaConfigModel(sla_config_pk(org), sk, organization_id=org)
    item.document = json.dumps(document, separators=(",", ":"), sort_keys=True)
    item.updated_at = clock.now()
    summary = _summary(sk, document)
    entry = audit.AuditEntry(
        organization_id=org,
        actor_id=principal.user_id,
        action=action,
        target_type="sla_" + sk.lower(),
        target_id=org,
        before=_summary(sk, json.loads(before.document)) if before else None,
        after=summary,
    )

    def build(tx: TransactWrite) -> None:
        tx.save(item)  # conditioned on the version read (a concurrent PUT is a 409)

    try:
        audit.transact(entry, build)
    except TransactWriteError:
        raise Conflict("The SLA settings were changed meanwhile; retry.") from None


def _summary(sk: str, document: dict[str, Any]) -> dict[str, Any]:
    """A short audit summary (the whole document is small and holds no personal data)."""
    return (
        document
        if sk == POLICY_SK
        else {
            "timeZone": document["timeZone"],
            "workingHours": document["workingHours"],
            "holidayCount": len(document.get("holidays", [])),
        }
    )


def put_calendar(principal: Principal, data: CalendarIn) -> dict[str, Any]:
    """Replace the organization's business calendar (audited). Existing due times stay; new
    tickets and later recomputations use the new calendar."""
    _put(principal, CALENDAR_SK, data.model_dump(mode="json"), "sla.calendar_update")
    return calendar_body(principal.organization_id)


def put_policy(principal: Principal, data: PolicyIn) -> dict[str, Any]:
    """Replace the organization's SLA policy (audited)."""
    _put(principal, POLICY_SK, data.model_dump(mode="json"), "sla.policy_update")
    return policy_body(principal.organization_id)


# --- A ticket's clocks -----------------------------------------------------------------------


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="milliseconds")


def _clock_stopped(status: str, policy: PolicyIn) -> bool:
    if status in (Status.RESOLVED, Status.CLOSED):
        return True
    return status == Status.PENDING and policy.pauseResolutionWhenPending


def _set_targets(item: TicketModel, settings: SlaSettings) -> None:
    """Due and at-risk times from the creation time, for the ticket's priority and group."""
    created = _instant(item.created_at)
    response, resolution = settings.targets_for(item.priority, item.group_id)
    calendar = settings.calendar
    if response is None:
        item.first_response_due_at = item.first_response_risk_at = None
    else:
        item.first_response_due_at = _iso(add_business_minutes(created, response, calendar))
        item.first_response_risk_at = _iso(
            add_business_minutes(created, int(response * AT_RISK_SHARE), calendar)
        )
    if resolution is None:
        item.resolution_due_at = item.resolution_risk_at = None
    else:
        item.resolution_due_at = _iso(add_business_minutes(created, resolution, calendar))
        item.resolution_risk_at = _iso(
            add_business_minutes(created, int(resolution * AT_RISK_SHARE), calendar)
        )


def apply_to_ticket(
    item: TicketModel,
    settings: SlaSettings,
    *,
    previous_status: str | None,
    previous_priority: str | None,
    now: str,
    group_changed: bool = False,
) -> None:
    """Bring the SLA fields of `item` (already carrying its new status, priority and group) up
    to date; `previous_*` None means the ticket is new. A new priority or group recomputes the
    targets from the creation time. Call before `set_index_keys`."""
    if previous_priority is None or previous_priority != item.priority or group_changed:
        _set_targets(item, settings)
        if item.resolution_due_at and item.sla_paused_at:
            # Recomputed from the creation time: the stopped time already passed still counts
            # as stopped, so the new due time moves with it.
            _shift_resolution(item, settings.calendar, item.sla_paused_at, now)
            item.sla_paused_at = now
    stopped = _clock_stopped(item.status, settings.policy)
    if stopped and not item.sla_paused_at:
        item.sla_paused_at = now
    elif not stopped and item.sla_paused_at:
        _shift_resolution(item, settings.calendar, item.sla_paused_at, now)
        item.sla_paused_at = None
    _ = previous_status  # the stop state is derived from the status itself


def _shift_resolution(item: TicketModel, calendar: BusinessCalendar, since: str, now: str) -> None:
    paused = business_minutes_between(_instant(since), _instant(now), calendar)
    if not paused or not item.resolution_due_at or item.resolution_breached_at:
        return
    item.resolution_due_at = _iso(
        add_business_minutes(_instant(item.resolution_due_at), paused, calendar)
    )
    if item.resolution_risk_at:
        item.resolution_risk_at = _iso(
            add_business_minutes(_instant(item.resolution_risk_at), paused, calendar)
        )
