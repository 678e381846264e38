# ruff: noqa: N815 (request fields are the API's camelCase names)
"""SLA request and response bodies: the business calendar and the SLA policy.

Validated strictly: a time zone must be an IANA name `zoneinfo` knows, working hours are
`HH:MM` pairs that are increasing and do not overlap within a day, at most 366 holidays, targets
are positive business minutes. Unknown fields are refused.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.schemas import Out, UtcTimestamp
from chalicelib.tickets.business_time import MINUTES_PER_DAY, BusinessCalendar
from chalicelib.tickets.models import Priority

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAYS_MAX = 366
INTERVALS_MAX = 28
TARGET_MAX_MINUTES = 525_600  # a year of business minutes
GROUP_OVERRIDES_MAX = 100
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$")
_GROUP_ID = r"^[A-Za-z0-9_-]{1,64}$"


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name, e.g. Europe/Berlin") from None
    return value


def _hhmm(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError("must be HH:MM (00:00 to 24:00)")
    return value


def minutes_of(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


Strict = ConfigDict(extra="forbid", strict=True)


class WorkingInterval(BaseModel):
    model_config = Strict
    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: Annotated[str, AfterValidator(_hhmm)]
    end: Annotated[str, AfterValidator(_hhmm)]


class CalendarIn(BaseModel):
    """PUT /api/admin/sla/calendar."""

    timeZone: Annotated[str, Field(max_length=64), AfterValidator(_zone)]
    workingHours: Annotated[list[WorkingInterval], Field(min_length=1, max_length=INTERVALS_MAX)]
    holidays: Annotated[list[dt.date], Field(max_length=HOLIDAYS_MAX)] = []

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _hours_do_not_overlap(self) -> CalendarIn:
        self.to_calendar()  # raises ValueError on inverted or overlapping intervals
        if len(set(self.holidays)) != len(self.holidays):
            raise ValueError("holidays must not repeat")
        return self

    def to_calendar(self) -> BusinessCalendar:
        """The domain calendar (raises ValueError when the hours are inverted or overlap)."""
        days: list[list[tuple[int, int]]] = [[] for _ in WEEKDAYS]
        for interval in self.workingHours:
            start, end = minutes_of(interval.start), minutes_of(interval.end)
            if not 0 <= start < end <= MINUTES_PER_DAY:
                span = f"{interval.start}-{interval.end}"
                raise ValueError(f"{interval.day} {span}: the end must be after the start")
            days[WEEKDAYS.index(interval.day)].append((start, end))
        for day, intervals in zip(WEEKDAYS, days, strict=True):
            intervals.sort()
            for (_, end), (start, _) in itertools.pairwise(intervals):
                if start < end:
                    raise ValueError(f"{day}: working hours overlap")
        return BusinessCalendar(
            time_zone=self.timeZone,
            hours=tuple(tuple(day) for day in days),
            holidays=frozenset(self.holidays),
        )


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    priority: Literal["LOW", "NORMAL", "HIGH", "URGENT"]
    firstResponseMinutes: Annotated[int, Field(ge=1, le=TARGET_MAX_MINUTES, strict=True)] | None
    resolutionMinutes: Annotated[int, Field(ge=1, le=TARGET_MAX_MINUTES, strict=True)] | None


def _unique_priorities(targets: list[Target]) -> list[Target]:
    if len({target.priority for target in targets}) != len(targets):
        raise ValueError("one target per priority")
    return targets


Targets = Annotated[
    list[Target], Field(max_length=len(Priority.ALL)), AfterValidator(_unique_priorities)
]


class GroupOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    groupId: Annotated[str, Field(pattern=_GROUP_ID)]
    targets: Targets


class PolicyIn(BaseModel):
    """PUT /api/admin/sla/policy."""

    model_config = ConfigDict(extra="forbid")
    targets: Targets
    groupOverrides: Annotated[list[GroupOverride], Field(max_length=GROUP_OVERRIDES_MAX)] = []
    pauseResolutionWhenPending: Annotated[bool, Field(strict=True)] = True

    @model_validator(mode="after")
    def _unique_groups(self) -> PolicyIn:
        if len({o.groupId for o in self.groupOverrides}) != len(self.groupOverrides):
            raise ValueError("one override per groupId")
        return self


class WorkingIntervalOut(Out):
    day: str
    start: str
    end: str


class CalendarOut(Out):
    """The organization's business calendar (24/7 in UTC until one is set)."""

    time_zone: str
    working_hours: list[WorkingIntervalOut]
    holidays: list[str]
    updated_at: UtcTimestamp | None


class TargetOut(Out):
    """Business minutes; null: no target of that kind for the priority."""

    priority: str
    first_response_minutes: int | None
    resolution_minutes: int | None


class GroupOverrideOut(Out):
    group_id: str
    targets: list[TargetOut]


class PolicyOut(Out):
    """The organization's SLA policy (no targets until one is set)."""

    targets: list[TargetOut]
    group_overrides: list[GroupOverrideOut]
    pause_resolution_when_pending: bool
    updated_at: UtcTimestamp | None
