"""Data access for the tickets table. Every function takes the organization id first and builds it
into the key, so no call can reach another organization's items. No permission decisions here.

Each function is one DynamoDB round trip (BatchGetItem retries of unprocessed keys aside); the
services compose them so every request stays within two (see docs/data-model.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from chalicelib.core.dynamo import connection
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    COMMENT_SK_END,
    TICKET_SK,
    CommentModel,
    SlaState,
    Status,
    TicketModel,
    TicketsItem,
    all_key,
    assignee_key,
    priority_key,
    requester_key,
    status_key,
    tag_key,
    ticket_pk,
)

MAX_BATCH_GET = 100
MAX_BATCH_GET_ATTEMPTS = 5


@dataclasses.dataclass(frozen=True)
class Page:
    """One page of a query: the items and DynamoDB's position after them (None: no more)."""

    items: list[Any]
    last_key: dict[str, Any] | None


def get_ticket(organization_id: str, ticket_id: str) -> TicketModel | None:
    """The ticket item (one strongly consistent GetItem), or None."""
    try:
        return TicketModel.get(
            ticket_pk(organization_id, ticket_id), TICKET_SK, consistent_read=True
        )
    except DoesNotExist:
        return None


def organization_of_ticket(ticket_id: str) -> str | None:
    """The organization a ticket id belongs to, or None (one Query on the `by_id` index).

    Only containment asks this, after a 404, to tell a probe of another organization's ticket
    from an id that exists nowhere; it never returns the ticket itself."""
    for item in TicketsItem.by_id.query(ticket_id, limit=1):
        return str(getattr(item, "organization_id", "")) or None
    return None


def batch_get_tickets(organization_id: str, ticket_ids: Sequence[str]) -> dict[str, TicketModel]:
    """Tickets by id (missing ones absent), in strongly consistent BatchGetItem calls of <= 100
    keys (one call for up to 100 tickets)."""
    tickets_table = TicketModel.Meta.table_name
    keys: list[dict[str, Any]] = [
        {"pk": {"S": ticket_pk(organization_id, tid)}, "sk": {"S": TICKET_SK}}
        for tid in dict.fromkeys(ticket_ids)
    ]
    client = connection().client
    tickets: dict[str, TicketModel] = {}
    for start in range(0, len(keys), MAX_BATCH_GET):
        request: dict[str, Any] = {
            tickets_table: {"Keys": keys[start : start + MAX_BATCH_GET], "ConsistentRead": True}
        }
        for _ in range(MAX_BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(tickets_table, []):
                item = TicketsItem.from_raw_data(raw)
                if isinstance(item, TicketModel) and item.organization_id == organization_id:
                    tickets[item.ticket_id] = item
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("BatchGetItem kept returning unprocessed keys")
    return tickets


def _page(result: Any, limit: int, key_names: Iterable[str]) -> Page:
    """Read exactly one DynamoDB page (queried with Limit=limit+1) and compute the position."""
    raw_page = next(result.page_iter)
    raw_items: list[dict[str, Any]] = raw_page.get("Items", [])
    if len(raw_items) > limit:
        raw_items = raw_items[:limit]
        last = raw_items[-1]
        last_key: dict[str, Any] | None = {name: last[name] for name in key_names}
    else:
        last_key = result.page_iter.last_evaluated_key
    return Page([TicketsItem.from_raw_data(raw) for raw in raw_items], last_key)


# --- Ticket lists -----------------------------------------------------------------------------

# A page costs at most this many Queries (plus, on the tag index, one BatchGetItem each): the
# bound on DynamoDB calls per list page. Filtered reads ask for FILTERED_READ items per Query.
MAX_QUERIES_PER_PAGE = 5
FILTERED_READ = 200

# sort field -> (index when the caller is a requester or filters by requester, staff index)
_SORT_INDEXES = {
    "updatedAt": ("by_requester_updated", "by_org_updated", "upd_sk"),
    "priority": ("by_requester_priority", "by_org_priority", "pri_sk"),
    "dueAt": ("by_requester_due", "by_org_due", "due_sk"),
}

_INDEX_KEY_ATTRIBUTES = {
    "by_org": ("gsi_org", "list_sk"),
    "by_status": ("gsi_status", "list_sk"),
    "by_priority": ("gsi_priority", "list_sk"),
    "by_requester": ("gsi_requester", "list_sk"),
    "by_assignee": ("gsi_assignee", "list_sk"),
    "by_tag": ("gsi_tag", "list_sk"),
    "by_org_updated": ("gsi_org", "upd_sk"),
    "by_requester_updated": ("gsi_requester", "upd_sk"),
    "by_org_priority": ("gsi_org", "pri_sk"),
    "by_requester_priority": ("gsi_requester", "pri_sk"),
    "by_org_due": ("gsi_org", "due_sk"),
    "by_requester_due": ("gsi_requester", "due_sk"),
    "by_term": ("gsi_term", "list_sk"),
    "by_requester_term": ("gsi_term_requester", "list_sk"),
}


@dataclasses.dataclass(frozen=True)
class TicketQuery:
    """Which index serves a ticket list, its key condition and what is left for the filter."""

    index: str
    hash_key: str
    range_condition: Condition | None
    filter_condition: Condition | None
    ascending: bool = False


@dataclasses.dataclass(frozen=True)
class ListFilters:
    """A ticket list's filters, already narrowed to what the caller may see."""

    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    assignee_id: str | None = None
    requester_id: str | None = None
    tag: str | None = None
    updated_since: str | None = None  # ISO 8601 UTC, as stored
    group_ids: tuple[str, ...] = ()  # any of these groups (empty: no group filter)
    # An agent limited to their groups (`policy.GroupLimit`): ungrouped tickets, tickets of
    # `visible_groups`, and tickets assigned to `visible_to`. None: no such limit.
    visible_to: str | None = None
    visible_groups: tuple[str, ...] = ()
    sla_states: tuple[str, ...] = ()
    now: str | None = None  # the time `at_risk` is judged at (needed with `sla_states`)


def _and(conditions: Sequence[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return combined


def _one_of(attribute: Any, values: tuple[str, ...]) -> Condition:
    condition: Condition = attribute == values[0] if len(values) == 1 else attribute.is_in(*values)
    return condition


def _group_limit_condition(filters: ListFilters) -> Condition:
    """`policy.GroupLimit` as a FilterExpression, so a limited agent's pages fill like others."""
    condition: Condition = TicketModel.group_id.does_not_exist() | (
        TicketModel.assignee_id == filters.visible_to
    )
    if filters.visible_groups:
        condition = condition | _one_of(TicketModel.group_id, filters.visible_groups)
    return condition


def _single(values: tuple[str, ...]) -> str | None:
    return values[0] if len(values) == 1 else None


def _choose_index(
    org: str, filters: ListFilters, field: str
) -> tuple[str, str, Condition | None, set[str]]:
    """(index, hash key, range condition, the filters the key already applies)."""
    if field == "createdAt":
        status, priority = _single(filters.statuses), _single(filters.priorities)
        # The requester's partition comes first: a requester's list (always filtered by
        # requester) must never read other requesters' tickets, or they would shape its pages.
        candidates: list[tuple[str, str, str | None]] = [
            (
                "requester",
                "by_requester",
                filters.requester_id and requester_key(org, filters.requester_id),
            ),
            (
                "assignee",
                "by_assignee",
                filters.assignee_id and assignee_key(org, filters.assignee_id),
            ),
            ("status", "by_status", status and status_key(org, status)),
            ("priority", "by_priority", priority and priority_key(org, priority)),
        ]
        for name, index, key in candidates:
            if key:
                return index, key, None, {name}
        return "by_org", all_key(org), None, set()
    requester_index, org_index, range_attribute = _SORT_INDEXES[field]
    used: set[str] = set()
    if filters.requester_id:
        index, hash_key = requester_index, requester_key(org, filters.requester_id)
        used.add("requester")
    else:
        index, hash_key = org_index, all_key(org)
    range_condition: Condition | None = None
    if field == "updatedAt" and filters.updated_since:
        range_condition = getattr(TicketModel, range_attribute) >= filters.updated_since
        used.add("updated_since")
    return index, hash_key, range_condition, used


def sla_state_condition(states: Sequence[str], now: str) -> Condition:
    """A FilterExpression true for tickets whose `models.sla_state` at `now` is in `states`."""
    t = TicketModel
    breached = t.first_response_breached_at.exists() | t.resolution_breached_at.exists()
    not_breached = (
        t.first_response_breached_at.does_not_exist() & t.resolution_breached_at.does_not_exist()
    )
    response_open = t.first_response_due_at.exists() & t.first_responded_at.does_not_exist()
    resolution_open = t.resolution_due_at.exists() & ~t.status.is_in(Status.RESOLVED, Status.CLOSED)
    has_targets = t.first_response_due_at.exists() | t.resolution_due_at.exists()
    risky = (response_open & (t.first_response_risk_at <= now)) | (
        resolution_open & t.sla_paused_at.does_not_exist() & (t.resolution_risk_at <= now)
    )
    running = response_open | resolution_open
    by_state: dict[str, Condition] = {
        SlaState.BREACHED: breached,
        SlaState.MET: not_breached & has_targets & ~running,
        SlaState.AT_RISK: not_breached & risky,
        SlaState.OK: not_breached & running & ~risky,
    }
    combined = _or([by_state[state] for state in states])
    assert combined is not None
    return combined


def _or(conditions: Sequence[Condition]) -> Condition | None:
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined | condition
    return combined


def plan_ticket_query(
    organization_id: str, filters: ListFilters, sort: str = "-createdAt"
) -> TicketQuery:
    """The index, key condition and FilterExpression of a ticket list (see docs/data-model.md).

    `sort=createdAt` (the default, descending) picks the most selective single-value partition:
    requester, assignee, status, priority, else the whole organization. `updatedAt` and
    `priority` sorts read the requester's partition when there is a requester filter (always
    for a requester) and the organization's otherwise. `updatedSince` is a key condition on
    the `updatedAt` indexes and a filter elsewhere; every other filter is a FilterExpression."""
    index, hash_key, range_condition, used = _choose_index(
        organization_id, filters, sort.lstrip("-")
    )
    # (filter name, whether it is set, its condition); pynamodb conditions refuse `bool()`.
    wanted: list[tuple[str, object, Callable[[], Condition]]] = [
        ("status", filters.statuses, lambda: _one_of(TicketModel.status, filters.statuses)),
        ("priority", filters.priorities, lambda: _one_of(TicketModel.priority, filters.priorities)),
        ("assignee", filters.assignee_id, lambda: TicketModel.assignee_id == filters.assignee_id),
        (
            "requester",
            filters.requester_id,
            lambda: TicketModel.requester_id == filters.requester_id,
        ),
        (
            "updated_since",
            filters.updated_since,
            lambda: TicketModel.updated_at >= filters.updated_since,
        ),
        ("tag", filters.tag, lambda: TicketModel.tags.contains(filters.tag)),
        ("group", filters.group_ids, lambda: _one_of(TicketModel.group_id, filters.group_ids)),
        ("visible", filters.visible_to, lambda: _group_limit_condition(filters)),
        (
            "sla_state",
            filters.sla_states,
            lambda: sla_state_condition(filters.sla_states, filters.now or ""),
        ),
    ]
    conditions = [build() for name, present, build in wanted if present and name not in used]
    return TicketQuery(
        index, hash_key, range_condition, _and(conditions), ascending=not sort.startswith("-")
    )


@dataclasses.dataclass(frozen=True)
class FilledPage:
    """A list page: up to `limit` tickets, the position after them, and the Queries it took."""

    items: list[TicketModel]
    last_key: dict[str, Any] | None
    queries: int


def _key_of(raw: dict[str, Any], index: str) -> dict[str, Any]:
    return {name: raw[name] for name in ("pk", "sk", *_INDEX_KEY_ATTRIBUTES[index])}


def _raw_query(
    index: str,
    hash_key: str,
    *,
    range_condition: Condition | None,
    filter_condition: Condition | None,
    ascending: bool,
    limit: int,
    start_key: dict[str, Any] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """One Query call on a ticket index: the raw items and DynamoDB's LastEvaluatedKey."""
    result = getattr(TicketsItem, index).query(
        hash_key,
        range_condition,
        filter_condition=filter_condition,
        scan_index_forward=ascending,
        page_size=limit,
        last_evaluated_key=start_key,
    )
    raw_page = next(result.page_iter, None)
    if raw_page is None:
        return [], None
    return list(raw_page.get("Items", [])), result.page_iter.last_evaluated_key


def fill_ticket_page(
    query: TicketQuery, limit: int, start_key: dict[str, Any] | None
) -> FilledPage:
    """Up to `limit` tickets of the query, resuming at `start_key`: Queries are repeated until
    the page is full or the index is exhausted, at most MAX_QUERIES_PER_PAGE of them. A page is
    short while matches remain only when that bound is reached, and its position is then where
    reading stopped (nothing before it is skipped)."""
    items: list[TicketModel] = []
    position = start_key
    read = limit + 1 if query.filter_condition is None else max(limit + 1, FILTERED_READ)
    for queries in range(1, MAX_QUERIES_PER_PAGE + 1):
        raw_items, last = _raw_query(
            query.index,
            query.hash_key,
            range_condition=query.range_condition,
            filter_condition=query.filter_condition,
            ascending=query.ascending,
            limit=read,
            start_key=position,
        )
        room = limit - len(items)
        if len(raw_items) > room:
            raw_items = raw_items[:room]
            last = _key_of(raw_items[-1], query.index)
        items.extend(
            item
            for item in map(TicketsItem.from_raw_data, raw_items)
            if isinstance(item, TicketModel)
        )
        position = last
        if position is None or len(items) >= limit:
            return FilledPage(items, position, queries)
    return FilledPage(items, position, MAX_QUERIES_PER_PAGE)


def fill_tag_page(
    organization_id: str,
    tag: str,
    matches: Callable[[TicketModel], bool],
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    ascending: bool = False,
) -> FilledPage:
    """Like `fill_ticket_page` on the tag index (by creation): each round is one Query of up to
    100 tag memberships and one BatchGetItem of their tickets, which `matches` then filters."""
    items: list[TicketModel] = []
    position = start_key
    read = min(limit + 1, MAX_BATCH_GET)
    for rounds in range(1, MAX_QUERIES_PER_PAGE + 1):
        raw_items, last = _raw_query(
            "by_tag",
            tag_key(organization_id, tag),
            range_condition=None,
            filter_condition=None,
            ascending=ascending,
            limit=read,
            start_key=position,
        )
        ids = [str(raw["list_sk"]["S"]) for raw in raw_items]
        found = batch_get_tickets(organization_id, ids) if ids else {}
        after_last_item: dict[str, Any] | None = None
        for raw, ticket_id in zip(raw_items, ids, strict=True):
            ticket = found.get(ticket_id)
            if ticket is None or not matches(ticket):
                continue
            if len(items) == limit:  # full, and another match follows: resume after the page
                return FilledPage(items, after_last_item, rounds)
            items.append(ticket)
            after_last_item = _key_of(raw, "by_tag")
        read = MAX_BATCH_GET
        position = last  # the rest of this batch held no further match
        if position is None or len(items) == limit:
            return FilledPage(items, position, rounds)
    return FilledPage(items, position, MAX_QUERIES_PER_PAGE)


def query_thread(
    organization_id: str,
    ticket_id: str,
    limit: int,
    start_key: dict[str, Any] | None,
    *,
    public_only: bool,
) -> Page:
    """One page of a ticket's item collection in order: the ticket first (on the first page),
    then its comments oldest first. `public_only` filters internal notes out inside DynamoDB."""
    range_start = TICKET_SK if start_key is None else COMMENT_PREFIX
    result = TicketsItem.query(
        ticket_pk(organization_id, ticket_id),
        TicketsItem.sk.between(range_start, COMMENT_SK_END),
        filter_condition=_public_only(public_only),
        consistent_read=True,
        scan_index_forward=True,
        page_size=limit + (2 if start_key is None else 1),
        last_evaluated_key=start_key,
    )
    # The first page also carries the ticket item, so it may hold limit + 1 items.
    return _page(result, limit + (1 if start_key is None else 0), ("pk", "sk"))


def _public_only(public_only: bool) -> Any:
    """The filter that leaves internal notes out inside DynamoDB (None: every comment)."""
    if not public_only:
        return None
    return CommentModel.internal.does_not_exist() | (CommentModel.internal == False)  # noqa: E712


def query_comments_after(
    organization_id: str,
    ticket_id: str,
    after_sk: str | None,
    limit: int,
    *,
    public_only: bool,
) -> tuple[list[CommentModel], str | None]:
    """Up to `limit` of a ticket's comments after the sort key `after_sk` (from the first with
    None), oldest first, in one Query; and the sort key where reading stopped (None: the
    ticket has no more comments). `public_only` filters internal notes out inside DynamoDB."""
    pk = ticket_pk(organization_id, ticket_id)
    result = CommentModel.query(
        pk,
        CommentModel.sk.between(COMMENT_PREFIX, COMMENT_SK_END),
        filter_condition=_public_only(public_only),
        consistent_read=True,
        scan_index_forward=True,
        page_size=limit,
        last_evaluated_key={"pk": {"S": pk}, "sk": {"S": after_sk}} if after_sk else None,
    )
    raw_page = next(result.page_iter, None)
    if raw_page is None:
        return [], None
    items = [
        item
        for item in map(TicketsItem.from_raw_data, raw_page.get("Items", []))
        if isinstance(item, CommentModel)
    ]
    last = result.page_iter.last_evaluated_key
    return items, str(last["sk"]["S"]) if last else None


def batch_get_by_ids(organization_id: str, ticket_ids: Sequence[str]) -> list[TicketModel]:
    """Tickets by id in the given order (missing ones skipped)."""
    found = batch_get_tickets(organization_id, ticket_ids)
    return [found[tid] for tid in ticket_ids if tid in found]


def put_tickets(items: Iterable[TicketsItem]) -> None:
    """Write many items with BatchWriteItem (seeding and data migrations, not request paths)."""
    with TicketsItem.batch_write() as batch:
        for item in items:
            batch.save(item)


# --- Search postings ---------------------------------------------------------------------------


def query_postings(
    index: str, hash_key: str, limit: int, before_id: str | None
) -> tuple[list[str], bool]:
    """Ticket ids of one term's postings, newest first, strictly before `before_id` (one Query,
    keys only), and whether more may follow. Ids repeat when a term is both public and in a
    note; callers drop the repeats."""
    raw_items, last = _raw_query(
        index,
        hash_key,
        range_condition=TicketsItem.list_sk < before_id if before_id else None,
        filter_condition=None,
        ascending=False,
        limit=limit,
        start_key=None,
    )
    return [str(raw["list_sk"]["S"]) for raw in raw_items], last is not None


def existing_keys(organization_id: str, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (ticket id, sort key) items exist, in BatchGetItem calls of <= 100 keys (keys only)."""
    table = TicketsItem.Meta.table_name
    client = connection().client
    found: set[tuple[str, str]] = set()
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), MAX_BATCH_GET):
        request: dict[str, Any] = {
            table: {
                "Keys": [
                    {"pk": {"S": ticket_pk(organization_id, tid)}, "sk": {"S": sk}}
                    for tid, sk in unique[start : start + MAX_BATCH_GET]
                ],
                "ProjectionExpression": "pk, sk, ticket_id",
            }
        }
        for _ in range(MAX_BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(table, []):
                found.add((raw["ticket_id"]["S"], raw["sk"]["S"]))
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError("BatchGetItem kept returning unprocessed keys")
    return found


def ticket_collection(organization_id: str, ticket_id: str) -> list[TicketsItem]:
    """Every item of a ticket's collection: ticket, comments, tags, search terms (paged Query;
    for reindexing, not request paths that must stay bounded)."""
    return list(TicketsItem.query(ticket_pk(organization_id, ticket_id), consistent_read=True))


def org_ticket_ids(organization_id: str) -> Iterable[str]:
    """Every ticket id of an organization, newest first (paged Query on `by_org`, keys only)."""
    for item in TicketsItem.by_org.query(
        all_key(organization_id),
        scan_index_forward=False,
        attributes_to_get=["pk", "sk", "kind", "list_sk"],
    ):
        yield str(item.list_sk)


def write_items(puts: Iterable[TicketsItem], deletes: Iterable[TicketsItem] = ()) -> None:
    """Put and delete many items with BatchWriteItem (25 per call)."""
    with TicketsItem.batch_write() as batch:
        for item in puts:
            batch.save(item)
        for item in deletes:
            batch.delete(item)
