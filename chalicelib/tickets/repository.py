"""Data access for the tickets table. Every function takes the organization id first and builds it
into the key, so no call can reach another organization's items. No permission decisions here.

Each function is one DynamoDB round trip (BatchGetItem retries of unprocessed keys aside); the
services compose them so every request stays within two (see docs/data-model.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.condition import Condition

from chalicelib.core.dynamo import connection
from chalicelib.tickets.models import (
    COMMENT_PREFIX,
    COMMENT_SK_END,
    TICKET_SK,
    CommentModel,
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


@dataclasses.dataclass(frozen=True)
class TicketQuery:
    """Which index serves a ticket list and the conditions left for its FilterExpression."""

    index: str
    hash_key: str
    filter_condition: Condition | None


def plan_ticket_query(
    organization_id: str,
    *,
    status: str | None = None,
    priority: str | None = None,
    assignee_id: str | None = None,
    requester_id: str | None = None,
) -> TicketQuery:
    """Pick the most selective index for the filters; the rest become a FilterExpression."""
    org = organization_id
    candidates: list[tuple[str, str | None, str]] = [
        ("by_assignee", assignee_id and assignee_key(org, assignee_id), "gsi_assignee"),
        ("by_requester", requester_id and requester_key(org, requester_id), "gsi_requester"),
        ("by_status", status and status_key(org, status), "gsi_status"),
        ("by_priority", priority and priority_key(org, priority), "gsi_priority"),
    ]
    index, hash_key = "by_org", all_key(org)
    for name, key, _attr in candidates:
        if key:
            index, hash_key = name, key
            break
    conditions: list[Condition] = []
    if status and index != "by_status":
        conditions.append(TicketModel.status == status)
    if priority and index != "by_priority":
        conditions.append(TicketModel.priority == priority)
    if requester_id and index != "by_requester":
        conditions.append(TicketModel.requester_id == requester_id)
    # assignee_id, when given, always picks by_assignee: never left for the filter.
    combined: Condition | None = None
    for condition in conditions:
        combined = condition if combined is None else combined & condition
    return TicketQuery(index, hash_key, combined)


_INDEX_KEY_ATTRIBUTE = {
    "by_org": "gsi_org",
    "by_status": "gsi_status",
    "by_priority": "gsi_priority",
    "by_requester": "gsi_requester",
    "by_assignee": "gsi_assignee",
    "by_tag": "gsi_tag",
}


def query_tickets(query: TicketQuery, limit: int, start_key: dict[str, Any] | None) -> Page:
    """One page of tickets from a ticket index, newest first (one Query)."""
    index = getattr(TicketsItem, query.index)
    result = index.query(
        query.hash_key,
        filter_condition=query.filter_condition,
        scan_index_forward=False,
        page_size=limit + 1,
        last_evaluated_key=start_key,
    )
    return _page(result, limit, ("pk", "sk", _INDEX_KEY_ATTRIBUTE[query.index], "list_sk"))


def query_tag(organization_id: str, tag: str, limit: int, start_key: dict[str, Any] | None) -> Page:
    """One page of tag memberships (keys only), newest ticket first (one Query)."""
    result = TicketsItem.by_tag.query(
        tag_key(organization_id, tag),
        scan_index_forward=False,
        page_size=limit + 1,
        last_evaluated_key=start_key,
    )
    return _page(result, limit, ("pk", "sk", "gsi_tag", "list_sk"))


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
        filter_condition=(
            CommentModel.internal.does_not_exist() | (CommentModel.internal == False)  # noqa: E712
        )
        if public_only
        else None,
        consistent_read=True,
        scan_index_forward=True,
        page_size=limit + (2 if start_key is None else 1),
        last_evaluated_key=start_key,
    )
    # The first page also carries the ticket item, so it may hold limit + 1 items.
    return _page(result, limit + (1 if start_key is None else 0), ("pk", "sk"))


def batch_get_by_ids(organization_id: str, ticket_ids: Sequence[str]) -> list[TicketModel]:
    """Tickets by id in the given order (missing ones skipped)."""
    found = batch_get_tickets(organization_id, ticket_ids)
    return [found[tid] for tid in ticket_ids if tid in found]


def put_tickets(items: Iterable[TicketsItem]) -> None:
    """Write many items with BatchWriteItem (seeding and data migrations, not request paths)."""
    with TicketsItem.batch_write() as batch:
        for item in items:
            batch.save(item)
