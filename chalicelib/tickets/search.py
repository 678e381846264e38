"""Ticket search: the term index in the tickets table, kept with each write, and `?q=` queries.

Each ticket's collection holds one item per distinct term (`chalicelib.tickets.search_terms`)
and visibility: `IX#P#<term>` for public text (subject, body, public replies) and `IX#N#<term>`
for internal notes. Both carry the staff index key (`by_term`: one partition per organization
and term); only public ones carry the requester's (`by_requester_term`: one partition per
organization, requester and term). A requester's search therefore reads only partitions of their
own tickets' public words: other requesters' tickets and internal-note words are outside the key
condition, not filtered afterwards.

Terms are written with BatchWriteItem right after the change's transaction commits (one ticket
subject alone yields more terms than the 100 items a DynamoDB transaction may hold). If the
process dies in between, the ticket is missing from search until `python -m cli tickets reindex`
rebuilds it; the ticket itself and its audit record are never affected. A merge reindexes the
target with the merged ticket's text, so its words find the target too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

from chalicelib.tickets import repository
from chalicelib.tickets.models import (
    TERM_PREFIX,
    CommentModel,
    TermModel,
    TicketModel,
    requester_term_key,
    term_key,
)
from chalicelib.tickets.search_terms import SearchQuery, text_terms

# Ids read per round of a search page; rounds are bounded by repository.MAX_QUERIES_PER_PAGE.
POSTINGS_READ = 100


def _terms(
    organization_id: str, ticket_id: str, requester_id: str, texts: Iterable[str], *, public: bool
) -> list[TermModel]:
    return [
        TermModel.for_ticket(organization_id, ticket_id, requester_id, term, public=public)
        for term in sorted(text_terms(texts))
    ]


def index_text(
    organization_id: str, ticket_id: str, requester_id: str, texts: Iterable[str], *, public: bool
) -> int:
    """Add the terms of new text of a ticket (idempotent puts); returns how many."""
    items = _terms(organization_id, ticket_id, requester_id, texts, public=public)
    repository.write_items(items)
    return len(items)


def _texts(collection: Iterable[object]) -> tuple[list[str], list[str]]:
    """A ticket collection's public text (subject, body, public replies) and internal notes."""
    public: list[str] = []
    notes: list[str] = []
    for item in collection:
        if isinstance(item, TicketModel):
            public += [item.subject, item.body_markdown]
        elif isinstance(item, CommentModel):
            (notes if item.internal else public).append(item.body_markdown)
    return public, notes


def reindex_ticket(organization_id: str, ticket_id: str) -> tuple[int, int]:
    """Rebuild one ticket's terms from its current text and that of the tickets merged into it:
    (terms put, stale terms deleted)."""
    collection = repository.ticket_collection(organization_id, ticket_id)
    ticket = next((item for item in collection if isinstance(item, TicketModel)), None)
    existing = {str(item.sk): item for item in collection if isinstance(item, TermModel)}
    wanted: dict[str, TermModel] = {}
    if ticket is not None:
        public, notes = _texts(collection)
        # A merged ticket's words find the ticket it was merged into, whose conversation
        # shows them (and still find the merged ticket itself).
        for merged_id in ticket.merged_from or ():
            merged_public, merged_notes = _texts(
                repository.ticket_collection(organization_id, merged_id)
            )
            public += merged_public
            notes += merged_notes
        rid = ticket.requester_id
        for term_item in _terms(organization_id, ticket_id, rid, public, public=True) + _terms(
            organization_id, ticket_id, rid, notes, public=False
        ):
            wanted[str(term_item.sk)] = term_item
    puts = [item for sk, item in wanted.items() if sk not in existing]
    deletes = [item for sk, item in existing.items() if sk not in wanted]
    repository.write_items(puts, deletes)
    return len(puts), len(deletes)


def reindex_organization(organization_id: str) -> dict[str, int]:
    """Rebuild the search index of every ticket of an organization (the CLI's `reindex`)."""
    totals = {"tickets": 0, "termsWritten": 0, "termsDeleted": 0}
    for ticket_id in repository.org_ticket_ids(organization_id):
        written, deleted = reindex_ticket(organization_id, ticket_id)
        totals["tickets"] += 1
        totals["termsWritten"] += written
        totals["termsDeleted"] += deleted
    return totals


@dataclasses.dataclass(frozen=True)
class SearchPage:
    items: list[TicketModel]
    before_id: str | None  # where the next page starts (exclusive), None: no more
    rounds: int


def search_page(
    organization_id: str,
    query: SearchQuery,
    *,
    requester_id: str | None,
    matches: Callable[[TicketModel], bool],
    limit: int,
    before_id: str | None,
) -> SearchPage:
    """Up to `limit` tickets carrying every term of the query, newest first.

    The first term drives: its postings are read newest first (one Query per round); the other
    terms are checked with one BatchGetItem of their term items for those ids, the survivors'
    tickets fetched with one BatchGetItem and filtered by `matches`. Rounds repeat until the
    page is full or the postings end, at most `repository.MAX_QUERIES_PER_PAGE` of them.
    `requester_id` set: only that requester's public terms are read (the requester's search)."""
    driver, others = query.terms[0], query.terms[1:]
    if requester_id is None:
        index, hash_key = "by_term", term_key(organization_id, driver)
        visibilities: tuple[str, ...] = ("P", "N")
    else:
        index, hash_key = (
            "by_requester_term",
            requester_term_key(organization_id, requester_id, driver),
        )
        visibilities = ("P",)
    checks_per_id = max(1, len(others) * len(visibilities))
    read = max(limit + 1, POSTINGS_READ // checks_per_id) if others else POSTINGS_READ
    read = min(read, repository.MAX_BATCH_GET)
    items: list[TicketModel] = []
    position = before_id
    for rounds in range(1, repository.MAX_QUERIES_PER_PAGE + 1):
        raw_ids, more = repository.query_postings(index, hash_key, read, position)
        ids = list(dict.fromkeys(raw_ids))
        if others and ids:
            keys = [
                (tid, f"{TERM_PREFIX}{vis}#{term}")
                for tid in ids
                for term in others
                for vis in visibilities
            ]
            present = repository.existing_keys(organization_id, keys)
            ids = [
                tid
                for tid in ids
                if all(
                    any((tid, f"{TERM_PREFIX}{vis}#{term}") in present for vis in visibilities)
                    for term in others
                )
            ]
        found = repository.batch_get_tickets(organization_id, ids) if ids else {}
        for tid in ids:
            ticket = found.get(tid)
            if ticket is None or not matches(ticket):
                continue
            if len(items) == limit:
                return SearchPage(items, items[-1].ticket_id, rounds)
            items.append(ticket)
        position = raw_ids[-1] if raw_ids else position
        if not more:
            return SearchPage(items, None, rounds)
        if len(items) == limit:
            return SearchPage(items, position, rounds)
    return SearchPage(items, position, repository.MAX_QUERIES_PER_PAGE)
