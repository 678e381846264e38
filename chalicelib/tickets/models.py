"""The tickets table: tickets, their comments and their tag memberships (pynamodb models).

One physical table, `tickets`, with generic keys. Every item of a ticket lives in the ticket's own
item collection, whose partition key starts with the organization id:

    pk = ORG#<org>#TICKET#<ticket id>
    sk = #TICKET             the ticket itself
         COMMENT#<comment id> a public reply or an internal note (time-ordered ids)
         TAG#<tag>           one per tag: feeds the tag index

Agent groups live in the organization's own partition, `pk = ORG#<org>`, `sk = GROUP#<id>`.

List filters are served by global secondary indexes whose partition keys also start with
`ORG#<org>#` and whose sort key is the time-ordered ticket id (newest first when queried
backwards). Only ticket items carry the ticket index keys, only tag items the tag index key, so
comments never appear in any index. `docs/data-model.md` maps each route to its query.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import time
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta
from chalicelib.core.org_keys import org_prefix
from chalicelib.tickets import clock

TICKET_SK = "#TICKET"
COMMENT_PREFIX = "COMMENT#"
TAG_PREFIX = "TAG#"
TERM_PREFIX = "IX#"
GROUP_PREFIX = "GROUP#"
# Search index visibility: words anyone who sees the ticket may match, and internal-note words.
PUBLIC_TERM = "P"
NOTE_TERM = "N"
# Sort rank of each priority in the `pri_sk` index key (ascending: LOW first).
PRIORITY_RANK = {"LOW": "1", "NORMAL": "2", "HIGH": "3", "URGENT": "4"}
# Upper bound of the comment sort keys (ids are lowercase hex): `#TICKET` < comments < this.
COMMENT_SK_END = f"{COMMENT_PREFIX}~"

_ID = re.compile(r"^[0-9a-f]{32}$")


class Status:
    OPEN = "OPEN"
    PENDING = "PENDING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    ALL = (OPEN, PENDING, RESOLVED, CLOSED)


class Priority:
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"
    URGENT = "URGENT"
    ALL = (LOW, NORMAL, HIGH, URGENT)


def new_id() -> str:
    """A 32-hex-digit id whose first 12 digits are the creation time in ms: ids sort by age."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


def is_valid_id(value: object) -> bool:
    """Ticket, comment and user ids: 32 lowercase hex digits (checked before any DynamoDB call)."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def ticket_pk(organization_id: str, ticket_id: str) -> str:
    return f"{org_prefix(organization_id)}TICKET#{ticket_id}"


def all_key(organization_id: str) -> str:
    return f"{org_prefix(organization_id)}ALL"


def status_key(organization_id: str, status: str) -> str:
    return f"{org_prefix(organization_id)}STATUS#{status}"


def priority_key(organization_id: str, priority: str) -> str:
    return f"{org_prefix(organization_id)}PRIORITY#{priority}"


def requester_key(organization_id: str, user_id: str) -> str:
    return f"{org_prefix(organization_id)}REQUESTER#{user_id}"


def assignee_key(organization_id: str, user_id: str) -> str:
    return f"{org_prefix(organization_id)}ASSIGNEE#{user_id}"


def tag_key(organization_id: str, tag: str) -> str:
    return f"{org_prefix(organization_id)}TAG#{tag}"


def term_key(organization_id: str, term: str) -> str:
    return f"{org_prefix(organization_id)}TERM#{term}"


def requester_term_key(organization_id: str, requester_id: str, term: str) -> str:
    return f"{org_prefix(organization_id)}REQUESTER#{requester_id}#TERM#{term}"


def _index_meta(name: str, projection: Any) -> Any:
    return type("Meta", (), {"index_name": name, "projection": projection})


class ByOrgIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_org", AllProjection())
    gsi_org = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByStatusIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_status", AllProjection())
    gsi_status = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByPriorityIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_priority", AllProjection())
    gsi_priority = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByRequesterIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_requester", AllProjection())
    gsi_requester = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByAssigneeIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_assignee", AllProjection())
    gsi_assignee = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByOrgUpdatedIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_org_updated", AllProjection())
    gsi_org = UnicodeAttribute(hash_key=True)
    upd_sk = UnicodeAttribute(range_key=True)


class ByRequesterUpdatedIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_requester_updated", AllProjection())
    gsi_requester = UnicodeAttribute(hash_key=True)
    upd_sk = UnicodeAttribute(range_key=True)


class ByOrgPriorityIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_org_priority", AllProjection())
    gsi_org = UnicodeAttribute(hash_key=True)
    pri_sk = UnicodeAttribute(range_key=True)


class ByRequesterPriorityIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_requester_priority", AllProjection())
    gsi_requester = UnicodeAttribute(hash_key=True)
    pri_sk = UnicodeAttribute(range_key=True)


class ByTermIndex(GlobalSecondaryIndex["TermModel"]):  # type: ignore[no-untyped-call]
    """Search postings for staff: one partition per (organization, term), ticket ids as the
    range key (newest first when queried backwards). Keys only."""

    Meta = _index_meta("by_term", IncludeProjection(["kind"]))
    gsi_term = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByRequesterTermIndex(GlobalSecondaryIndex["TermModel"]):  # type: ignore[no-untyped-call]
    """Search postings for a requester: public words of their own tickets only, so the key
    condition itself keeps other requesters' tickets and internal notes out."""

    Meta = _index_meta("by_requester_term", IncludeProjection(["kind"]))
    gsi_term_requester = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByTagIndex(GlobalSecondaryIndex["TagModel"]):  # type: ignore[no-untyped-call]
    """Keys (and the item kind pynamodb filters on): a tag query yields ticket keys, fetched
    with one BatchGetItem."""

    Meta = _index_meta("by_tag", IncludeProjection(["kind"]))
    gsi_tag = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class ByIdIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    """Ticket id -> its organization, for containment only: when a caller gets a 404, one
    lookup here tells a stale link (the id exists nowhere) from a probe of another
    organization's ticket. Never used to serve data."""

    Meta = _index_meta("by_id", IncludeProjection(["kind", "organization_id"]))
    gsi_id = UnicodeAttribute(hash_key=True)


class ByOrgDueIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_org_due", AllProjection())
    gsi_org = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class ByRequesterDueIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    Meta = _index_meta("by_requester_due", AllProjection())
    gsi_requester = UnicodeAttribute(hash_key=True)
    due_sk = UnicodeAttribute(range_key=True)


class BySlaDueIndex(GlobalSecondaryIndex["TicketModel"]):  # type: ignore[no-untyped-call]
    """The SLA breach queue, across organizations: only a ticket with a running SLA clock
    carries the keys (sparse). `SLADUE#<shard>` spreads the queue over `SLA_DUE_SHARDS`
    partitions; the range key is the earliest running due time, then the ticket id, so the
    sweep reads exactly the tickets whose due time has passed."""

    Meta = _index_meta("by_sla_due", AllProjection())
    gsi_sla_due = UnicodeAttribute(hash_key=True)
    sla_due_sk = UnicodeAttribute(range_key=True)


class TicketsItem(Model):
    """Base of every item in the tickets table (key schema and indexes in one place)."""

    Meta = table_meta("tickets")
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()

    # Index key attributes (declared here so the table's schema lists every index).
    list_sk = UnicodeAttribute(null=True)
    gsi_org = UnicodeAttribute(null=True)
    gsi_status = UnicodeAttribute(null=True)
    gsi_priority = UnicodeAttribute(null=True)
    gsi_requester = UnicodeAttribute(null=True)
    gsi_assignee = UnicodeAttribute(null=True)
    gsi_tag = UnicodeAttribute(null=True)
    gsi_id = UnicodeAttribute(null=True)
    upd_sk = UnicodeAttribute(null=True)
    pri_sk = UnicodeAttribute(null=True)
    gsi_term = UnicodeAttribute(null=True)
    gsi_term_requester = UnicodeAttribute(null=True)
    gsi_sla_due = UnicodeAttribute(null=True)
    sla_due_sk = UnicodeAttribute(null=True)
    due_sk = UnicodeAttribute(null=True)

    by_org = ByOrgIndex()
    by_status = ByStatusIndex()
    by_priority = ByPriorityIndex()
    by_requester = ByRequesterIndex()
    by_assignee = ByAssigneeIndex()
    by_tag = ByTagIndex()
    by_id = ByIdIndex()
    by_org_updated = ByOrgUpdatedIndex()
    by_requester_updated = ByRequesterUpdatedIndex()
    by_org_priority = ByOrgPriorityIndex()
    by_requester_priority = ByRequesterPriorityIndex()
    by_term = ByTermIndex()
    by_requester_term = ByRequesterTermIndex()
    by_sla_due = BySlaDueIndex()
    by_org_due = ByOrgDueIndex()
    by_requester_due = ByRequesterDueIndex()


class TicketModel(TicketsItem, discriminator="ticket"):
    """`ORG#<org>#TICKET#<id>` / `#TICKET`."""

    ticket_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    subject = UnicodeAttribute()
    body_markdown = UnicodeAttribute()
    body_html = UnicodeAttribute()
    status = UnicodeAttribute()
    priority = UnicodeAttribute()
    requester_id = UnicodeAttribute()
    # Who opened it, when not the requester (an agent or API token on a customer's behalf).
    submitter_id = UnicodeAttribute(null=True)
    assignee_id = UnicodeAttribute(null=True)
    tags = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    first_responded_at = UnicodeAttribute(null=True)
    follow_up_of = UnicodeAttribute(null=True)
    # Merging: the ticket this one was merged into (it is then CLOSED for good), and the tickets
    # merged into this one, oldest merge first, whose comments and attachments it shows.
    merged_into = UnicodeAttribute(null=True)
    merged_from = ListAttribute[str](of=UnicodeAttribute, null=True)  # type: ignore[arg-type]
    # The agent group the ticket belongs to (`GroupModel`), if any.
    group_id = UnicodeAttribute(null=True)
    # SLA (chalicelib/tickets/sla.py): due times (ISO 8601 UTC), when each target becomes at
    # risk (80% of its business minutes used), breach marks, and when the resolution clock
    # stopped (PENDING with the pause setting, RESOLVED, CLOSED).
    first_response_due_at = UnicodeAttribute(null=True)
    resolution_due_at = UnicodeAttribute(null=True)
    first_response_risk_at = UnicodeAttribute(null=True)
    resolution_risk_at = UnicodeAttribute(null=True)
    first_response_breached_at = UnicodeAttribute(null=True)
    resolution_breached_at = UnicodeAttribute(null=True)
    sla_paused_at = UnicodeAttribute(null=True)

    @classmethod
    def new(
        cls,
        organization_id: str,
        *,
        requester_id: str,
        subject: str,
        body_markdown: str,
        body_html: str,
        priority: str = Priority.NORMAL,
        tags: list[str] | None = None,
        now: str,
        ticket_id: str | None = None,
        submitter_id: str | None = None,
        follow_up_of: str | None = None,
        group_id: str | None = None,
    ) -> TicketModel:
        """A new OPEN ticket item with every index key set (not saved)."""
        ticket_id = ticket_id or new_id()
        item = cls(
            ticket_pk(organization_id, ticket_id),
            TICKET_SK,
            ticket_id=ticket_id,
            organization_id=organization_id,
            subject=subject,
            body_markdown=body_markdown,
            body_html=body_html,
            status=Status.OPEN,
            priority=priority,
            requester_id=requester_id,
            submitter_id=submitter_id or requester_id,
            assignee_id=None,
            tags=list(tags or []),
            created_at=now,
            updated_at=now,
            follow_up_of=follow_up_of,
            group_id=group_id,
        )
        item.set_index_keys()
        return item

    def set_index_keys(self) -> None:
        """Derive every index key from the ticket's fields (call after any field change)."""
        org = self.organization_id
        self.list_sk = self.ticket_id
        self.gsi_id = self.ticket_id
        self.gsi_org = all_key(org)
        self.gsi_status = status_key(org, self.status)
        self.gsi_priority = priority_key(org, self.priority)
        self.gsi_requester = requester_key(org, self.requester_id)
        self.gsi_assignee = assignee_key(org, self.assignee_id) if self.assignee_id else None
        self.upd_sk = updated_sort_key(self.updated_at, self.ticket_id)
        self.pri_sk = f"{PRIORITY_RANK[self.priority]}#{self.ticket_id}"
        due = self.running_sla_due()
        self.gsi_sla_due = sla_due_key(self.ticket_id) if due else None
        self.sla_due_sk = f"{due}#{self.ticket_id}" if due else None
        self.due_sk = due_sort_key(self.next_due(), self.ticket_id)

    def next_due(self) -> str | None:
        """The `sort=dueAt` time: the earliest due time of a target not yet met (breached and
        paused ones included); None when every target is met or there is none."""
        dues = []
        if self.first_response_due_at and not self.first_responded_at:
            dues.append(self.first_response_due_at)
        if self.resolution_due_at and self.status not in (Status.RESOLVED, Status.CLOSED):
            dues.append(self.resolution_due_at)
        return min(dues) if dues else None

    def running_sla_due(self) -> str | None:
        """The earliest due time whose clock runs and that is neither met nor breached."""
        dues = []
        if (
            self.first_response_due_at
            and not self.first_responded_at
            and not self.first_response_breached_at
        ):
            dues.append(self.first_response_due_at)
        if self.resolution_due_at and not self.sla_paused_at and not self.resolution_breached_at:
            dues.append(self.resolution_due_at)
        return min(dues) if dues else None


SLA_DUE_SHARDS = 8


def sla_due_key(ticket_id: str) -> str:
    """The `by_sla_due` partition of a ticket: a stable shard of its id."""
    return f"SLADUE#{int(ticket_id[-4:], 16) % SLA_DUE_SHARDS}"


def due_sort_key(due: str | None, ticket_id: str) -> str:
    """The `due_sk` range key: the next due time, then the id; `~` (after every time) when
    nothing is due, so those tickets come last in ascending order."""
    return f"{due or '~'}#{ticket_id}"


def updated_sort_key(updated_at: str, ticket_id: str) -> str:
    """The `upd_sk` range key: ISO 8601 UTC time (fixed width, so it sorts as text), then the id."""
    return f"{updated_at}#{ticket_id}"


class CommentModel(TicketsItem, discriminator="comment"):
    """`ORG#<org>#TICKET#<id>` / `COMMENT#<comment id>`."""

    comment_id = UnicodeAttribute()
    ticket_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    author_id = UnicodeAttribute()
    internal = BooleanAttribute()
    body_markdown = UnicodeAttribute()
    body_html = UnicodeAttribute()
    created_at = UnicodeAttribute()
    # Set on the comments the system writes: "merged_into" on a merged ticket (left out when
    # that ticket's conversation is shown on the target), "merged_from" on the target.
    system = UnicodeAttribute(null=True)


MERGED_INTO_NOTE = "merged_into"
MERGED_FROM_NOTE = "merged_from"


class TagModel(TicketsItem, discriminator="tag"):
    """`ORG#<org>#TICKET#<id>` / `TAG#<tag>`: the ticket's membership in the tag index."""

    ticket_id = UnicodeAttribute()
    tag = UnicodeAttribute()

    @classmethod
    def for_ticket(cls, organization_id: str, ticket_id: str, tag: str) -> TagModel:
        return cls(
            ticket_pk(organization_id, ticket_id),
            f"{TAG_PREFIX}{tag}",
            ticket_id=ticket_id,
            tag=tag,
            gsi_tag=tag_key(organization_id, tag),
            list_sk=ticket_id,
        )


class TermModel(TicketsItem, discriminator="term"):
    """`ORG#<org>#TICKET#<id>` / `IX#<P|N>#<term>`: one search posting of a ticket. Public terms
    (subject, body, public replies) carry both index keys; internal-note terms only the staff
    one. Puts are idempotent, so indexing a text twice changes nothing."""

    ticket_id = UnicodeAttribute()

    @classmethod
    def for_ticket(
        cls, organization_id: str, ticket_id: str, requester_id: str, term: str, *, public: bool
    ) -> TermModel:
        visibility = PUBLIC_TERM if public else NOTE_TERM
        return cls(
            ticket_pk(organization_id, ticket_id),
            f"{TERM_PREFIX}{visibility}#{term}",
            ticket_id=ticket_id,
            gsi_term=term_key(organization_id, term),
            gsi_term_requester=(
                requester_term_key(organization_id, requester_id, term) if public else None
            ),
            list_sk=ticket_id,
        )


class GroupModel(TicketsItem, discriminator="group"):
    """`ORG#<org>` / `GROUP#<group id>`: an agent group. All of an organization's groups share
    its partition (one Query lists them); members are a list on the item (bounded by
    `groups.MAX_MEMBERS`), so a membership check is a condition on this one item."""

    group_id = UnicodeAttribute()
    organization_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    archived = BooleanAttribute(default=False)
    member_ids = ListAttribute[str](of=UnicodeAttribute, default=list)  # type: ignore[arg-type]
    version = VersionAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


def group_sk(group_id: str) -> str:
    return f"{GROUP_PREFIX}{group_id}"


@dataclasses.dataclass(frozen=True)
class Ticket:
    """A ticket as services see it (immutable; `version` is the optimistic-concurrency token)."""

    id: str
    organization_id: str
    subject: str
    body_markdown: str
    body_html: str
    status: str
    priority: str
    requester_id: str
    assignee_id: str | None
    tags: tuple[str, ...]
    version: int
    created_at: str
    updated_at: str
    submitter_id: str
    # Display names, filled in for responses (`tickets.names`); None when unknown.
    requester_name: str | None = None
    assignee_name: str | None = None
    first_responded_at: str | None = None
    follow_up_of: str | None = None
    merged_into: str | None = None
    merged_from: tuple[str, ...] = ()
    group_id: str | None = None
    first_response_due_at: str | None = None
    resolution_due_at: str | None = None
    first_response_breached_at: str | None = None
    resolution_breached_at: str | None = None
    sla_state: str | None = None

    @classmethod
    def from_model(cls, item: TicketModel) -> Ticket:
        return cls(
            id=item.ticket_id,
            organization_id=item.organization_id,
            subject=item.subject,
            body_markdown=item.body_markdown,
            body_html=item.body_html,
            status=item.status,
            priority=item.priority,
            requester_id=item.requester_id,
            assignee_id=item.assignee_id,
            tags=tuple(str(tag) for tag in item.tags or ()),
            version=int(item.version or 0),
            created_at=item.created_at,
            updated_at=item.updated_at,
            submitter_id=item.submitter_id or item.requester_id,
            first_responded_at=item.first_responded_at,
            follow_up_of=item.follow_up_of,
            merged_into=item.merged_into,
            merged_from=tuple(str(tid) for tid in item.merged_from or ()),
            group_id=item.group_id,
            first_response_due_at=item.first_response_due_at,
            resolution_due_at=item.resolution_due_at,
            first_response_breached_at=item.first_response_breached_at,
            resolution_breached_at=item.resolution_breached_at,
            sla_state=sla_state(item, clock.now()),
        )


class SlaState:
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    ALL = (OK, AT_RISK, BREACHED, MET)


def sla_state(item: TicketModel, now: str) -> str | None:
    """The ticket's SLA state at `now` (None: no target applies to it).

    `breached` once any target was missed; `met` when every target it has is met (answered
    publicly by staff; RESOLVED or CLOSED); `at_risk` when a running target has used 80% of
    its business minutes (less than 20% left); else `ok`."""
    if not item.first_response_due_at and not item.resolution_due_at:
        return None
    if item.first_response_breached_at or item.resolution_breached_at:
        return SlaState.BREACHED
    response_open = bool(item.first_response_due_at) and not item.first_responded_at
    resolution_open = bool(item.resolution_due_at) and item.status not in (
        Status.RESOLVED,
        Status.CLOSED,
    )
    if not response_open and not resolution_open:
        return SlaState.MET
    risks = []
    if response_open and item.first_response_risk_at:
        risks.append(item.first_response_risk_at)
    if resolution_open and not item.sla_paused_at and item.resolution_risk_at:
        risks.append(item.resolution_risk_at)
    return SlaState.AT_RISK if any(risk <= now for risk in risks) else SlaState.OK


class SlaConfigModel(TicketsItem, discriminator="sla_config"):
    """`ORG#<org>#SLA` / `CALENDAR` or `POLICY`: an organization's business calendar and SLA
    policy, each one JSON document (validated by `tickets.sla_schemas` before it is stored)."""

    organization_id = UnicodeAttribute()
    document = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()


def sla_config_pk(organization_id: str) -> str:
    return f"{org_prefix(organization_id)}SLA"


@dataclasses.dataclass(frozen=True)
class Comment:
    """A public reply or an internal note."""

    id: str
    ticket_id: str
    organization_id: str
    author_id: str
    internal: bool
    body_markdown: str
    body_html: str
    created_at: str
    author_name: str | None = None  # filled in for responses (`tickets.names`)

    @classmethod
    def from_model(cls, item: CommentModel) -> Comment:
        return cls(
            id=item.comment_id,
            ticket_id=item.ticket_id,
            organization_id=item.organization_id,
            author_id=item.author_id,
            internal=bool(item.internal),
            body_markdown=item.body_markdown,
            body_html=item.body_html,
            created_at=item.created_at,
        )


# --- The idempotency table (Powertools' persistence layer; see tickets/idempotency.py) ------


class IdempotencyItem(Model):
    """The idempotency table as Powertools' DynamoDB persistence layer uses it."""

    Meta = table_meta("idempotency")
    id = UnicodeAttribute(hash_key=True)
    expiration = TTLAttribute(null=True)
