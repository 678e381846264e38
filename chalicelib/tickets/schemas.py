"""Ticket and comment schemas: the request bodies and queries, and the response bodies.

Requests: strict types, explicit limits, unknown fields refused.

Strings are stored exactly as accepted (no trimming or case folding), so what a client reads back
is what it sent; inputs that cannot be stored faithfully (lone surrogates, control characters in
one-line fields, blank text) are refused with a 400 instead.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
    model_validator,
)

from chalicelib.core.list_query import ListQuery
from chalicelib.core.schemas import Out, UtcTimestamp
from chalicelib.core.text import check_one_line
from chalicelib.tickets.models import Priority, SlaState, Status

SUBJECT_MAX = 200
BODY_MAX = 20_000
TAG_MAX_LENGTH = 32
TAGS_MAX = 10
BULK_MAX_IDS = 100

ID_PATTERN = r"^[0-9a-f]{32}$"
TAG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"

_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls and DEL; multi-line text may keep tab, newline and carriage return.
_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _one_line(value: str) -> str:
    return check_one_line(value)  # also refuses bidirectional controls (chalicelib/core/text.py)


def _text(value: str) -> str:
    if _SURROGATE.search(value) or _TEXT_CONTROL.search(value):
        raise ValueError("must not contain control characters or lone surrogates")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not contain duplicates")
    return values


Subject = Annotated[
    str, StringConstraints(min_length=1, max_length=SUBJECT_MAX), AfterValidator(_one_line)
]
PersonName = Annotated[
    str, StringConstraints(min_length=1, max_length=120), AfterValidator(_one_line)
]
Body = Annotated[str, StringConstraints(min_length=1, max_length=BODY_MAX), AfterValidator(_text)]
Tag = Annotated[str, StringConstraints(max_length=TAG_MAX_LENGTH, pattern=TAG_PATTERN)]
Tags = Annotated[list[Tag], Field(max_length=TAGS_MAX), AfterValidator(_unique)]
Id = Annotated[str, StringConstraints(min_length=32, max_length=32, pattern=ID_PATTERN)]
StatusValue = Literal["OPEN", "PENDING", "RESOLVED", "CLOSED"]
PriorityValue = Literal["LOW", "NORMAL", "HIGH", "URGENT"]

assert set(Status.ALL) == set(StatusValue.__args__)  # type: ignore[attr-defined]
assert set(Priority.ALL) == set(PriorityValue.__args__)  # type: ignore[attr-defined]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class RequesterRef(_Strict):
    """A customer by e-mail: found in the organization, or created as a requester."""

    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    name: PersonName


class CreateTicket(_Strict):
    """`requesterId` or `requester` (staff only, not both): open the ticket for a customer."""

    subject: Subject
    body: Body
    priority: PriorityValue = "NORMAL"
    tags: Tags = Field(default_factory=list)
    requesterId: Id | None = None  # noqa: N815 (the contract's field name)
    requester: RequesterRef | None = None
    followUpOf: Id | None = None  # noqa: N815 (a ticket the caller sees, e.g. a closed one)
    groupId: Id | None = None  # noqa: N815 (staff only: an active group of the organization)

    @model_validator(mode="after")
    def _one_requester(self) -> CreateTicket:
        if self.requesterId is not None and self.requester is not None:
            raise ValueError("give requesterId or requester, not both")
        return self


class UpdateTicket(_Strict):
    """Only the fields present are changed; `assigneeId: null` unassigns."""

    subject: Subject | None = None
    status: StatusValue | None = None
    priority: PriorityValue | None = None
    assigneeId: Id | None = None  # noqa: N815 (the contract's field name)
    tags: Tags | None = None
    groupId: Id | None = None  # noqa: N815 (staff only; `null` takes the ticket out of its group)


class CreateComment(_Strict):
    body: Body
    internal: bool = False


class _BulkBase(_Strict):
    ids: Annotated[list[Id], Field(min_length=1, max_length=BULK_MAX_IDS), AfterValidator(_unique)]


class BulkSetStatus(_BulkBase):
    action: Literal["set_status"]
    status: StatusValue


class BulkSetPriority(_BulkBase):
    action: Literal["set_priority"]
    priority: PriorityValue


class BulkAssign(_BulkBase):
    action: Literal["assign"]
    assigneeId: Id | None  # noqa: N815


class BulkAddTag(_BulkBase):
    action: Literal["add_tag"]
    tag: Tag


class BulkRemoveTag(_BulkBase):
    action: Literal["remove_tag"]
    tag: Tag


BulkAction = Annotated[
    BulkSetStatus | BulkSetPriority | BulkAssign | BulkAddTag | BulkRemoveTag,
    Field(discriminator="action"),
]

BULK_REQUEST: TypeAdapter[BulkSetStatus | BulkSetPriority | BulkAssign | BulkAddTag | BulkRemoveTag]
BULK_REQUEST = TypeAdapter(BulkAction, config=ConfigDict(defer_build=True))


def _comma_list(allowed: tuple[str, ...]) -> Any:
    def split(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        parts = value.split(",")
        if len(set(parts)) != len(parts) or any(part not in allowed for part in parts):
            raise ValueError(f"must be one or more of {', '.join(allowed)}, comma-separated")
        return tuple(parts)

    return split


def _comma_schema(allowed: tuple[str, ...]) -> dict[str, Any]:
    one = "|".join(allowed)
    return {
        "type": "string",
        "pattern": f"^({one})(,({one}))*$",
        "description": "One value or several, comma-separated (any of them matches).",
    }


def _timestamp(value: Any) -> str:
    """An ISO 8601 time with an offset (or `Z`), as the stored UTC text (millisecond precision)."""
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("must be an ISO 8601 date-time with a time zone")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time with a time zone") from None
    if parsed.tzinfo is None:
        raise ValueError("must be an ISO 8601 date-time with a time zone")
    return parsed.astimezone(UTC).isoformat(timespec="milliseconds")


StatusList = Annotated[
    tuple[StatusValue, ...],
    BeforeValidator(_comma_list(Status.ALL)),
    WithJsonSchema(_comma_schema(Status.ALL)),
]
PriorityList = Annotated[
    tuple[PriorityValue, ...],
    BeforeValidator(_comma_list(Priority.ALL)),
    WithJsonSchema(_comma_schema(Priority.ALL)),
]
Timestamp = Annotated[
    str,
    BeforeValidator(_timestamp),
    WithJsonSchema({"type": "string", "format": "date-time", "maxLength": 40}),
]
SlaStateValue = Literal["ok", "at_risk", "breached", "met"]
SlaStateList = Annotated[
    tuple[SlaStateValue, ...],
    BeforeValidator(_comma_list(SlaState.ALL)),
    WithJsonSchema(_comma_schema(SlaState.ALL)),
]
SortValue = Literal[
    "createdAt", "-createdAt", "updatedAt", "-updatedAt", "priority", "-priority", "dueAt", "-dueAt"
]
AssigneeFilter = Annotated[str, StringConstraints(max_length=32, pattern=r"^(me|[0-9a-f]{32})$")]
GroupFilter = Annotated[str, StringConstraints(max_length=32, pattern=r"^(mine|[0-9a-f]{32})$")]
SearchText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ListTicketsQuery(ListQuery):
    status: StatusList | None = None
    priority: PriorityList | None = None
    assigneeId: AssigneeFilter | None = None  # noqa: N815 (`me`: the caller)
    requesterId: Id | None = None  # noqa: N815
    tag: Tag | None = None
    sort: SortValue = "-createdAt"
    updatedSince: Timestamp | None = None  # noqa: N815 (updatedAt >= this)
    q: SearchText | None = None
    groupId: GroupFilter | None = None  # noqa: N815 (`mine`: the caller's groups)
    slaState: SlaStateList | None = None  # noqa: N815


class BulkRequest(RootModel[BulkAction]):
    """The body of `POST /api/tickets/bulk` as one model (the handler validates the same union
    through `BULK_REQUEST`; this class exists for the OpenAPI document)."""

    model_config = ConfigDict(defer_build=True)


# --- Response schemas (`XOut.dump(domain object)` is the body; see chalicelib.core.schemas) ---


class TicketOut(Out):
    """A ticket; `version` is its optimistic-concurrency token (the `ETag`)."""

    id: str
    organization_id: str
    subject: str
    body_html: str
    body_markdown: str
    status: StatusValue
    priority: PriorityValue
    requester_id: str
    requester_name: str | None
    submitter_id: str
    assignee_id: str | None
    assignee_name: str | None
    tags: list[str]
    version: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp
    first_responded_at: UtcTimestamp | None
    follow_up_of: str | None
    merged_into: str | None
    merged_from: list[str]
    group_id: str | None
    first_response_due_at: UtcTimestamp | None
    resolution_due_at: UtcTimestamp | None
    sla_state: SlaStateValue | None


class MergeTicket(_Strict):
    """`POST /api/tickets/{id}/merge`: the ticket of the organization to merge this one into."""

    intoId: Id  # noqa: N815 (the contract's field name)


class CommentOut(Out):
    """A public reply, or an internal note (which only staff receive)."""

    id: str
    ticket_id: str
    author_id: str
    author_name: str | None
    internal: bool
    body_html: str
    body_markdown: str
    created_at: UtcTimestamp


class BulkResult(Out):
    id: str
    result: Literal["ok", "NOT_FOUND", "FORBIDDEN", "CONFLICT"]


class BulkOut(Out):
    """Per-id outcomes, in request order."""

    results: list[BulkResult]


# --- Agent groups (`/api/admin/groups`) ------------------------------------------------------

GroupName = Annotated[
    str, StringConstraints(min_length=1, max_length=80), AfterValidator(_one_line)
]


def _one_line_or_empty(value: str) -> str:
    return value if value == "" else _one_line(value)


GroupDescription = Annotated[
    str, StringConstraints(max_length=500), AfterValidator(_one_line_or_empty)
]


class CreateGroup(_Strict):
    name: GroupName
    description: GroupDescription = ""


class UpdateGroup(_Strict):
    """Only the fields present are changed; `archived` archives or unarchives."""

    name: GroupName | None = None
    description: GroupDescription | None = None
    archived: bool | None = None


class SetGroupMembers(_Strict):
    """The complete member list (replaces the current one): active agents or admins."""

    userIds: Annotated[list[Id], Field(max_length=90), AfterValidator(_unique)]  # noqa: N815


class ListGroupsQuery(ListQuery):
    archived: Literal["true", "false"] | None = None


class GroupOut(Out):
    """An agent group; `version` is its optimistic-concurrency token (the `ETag`)."""

    id: str
    name: str
    description: str
    archived: bool
    member_ids: list[str]
    version: int
    created_at: UtcTimestamp
    updated_at: UtcTimestamp

    @classmethod
    def of(cls, source: Any) -> GroupOut:
        """From a stored group (`tickets.models.GroupModel`)."""
        return super().of(
            {
                "id": source.group_id,
                "name": source.name,
                "description": source.description or "",
                "archived": bool(source.archived),
                "member_ids": list(source.member_ids or []),
                "version": int(source.version or 0),
                "created_at": source.created_at,
                "updated_at": source.updated_at,
            }
        )
