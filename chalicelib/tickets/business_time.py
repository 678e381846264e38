"""Business time: adding business minutes to an instant and counting them between two instants.

Pure code, no AWS. A `BusinessCalendar` is an IANA time zone, the working intervals of each
weekday (local wall-clock minutes, e.g. Mon-Fri 09:00-17:00) and holidays (local dates). Each
working interval of a day is turned into a pair of UTC instants through `zoneinfo`, and time is
then counted as real elapsed time inside those windows, so a day that changes to or from daylight
saving time counts exactly the minutes that really passed inside its working hours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60
# A calendar works at least one interval a week and has at most 366 holidays, so a walk of this
# many days always reaches the next working minute; the bound only guards against a calendar
# that was built without validation.
_MAX_DAYS_WITHOUT_WORK = 800
_MINUTE = dt.timedelta(minutes=1)


@dataclasses.dataclass(frozen=True)
class BusinessCalendar:
    """An organization's working time.

    `hours[weekday]` (Monday = 0) lists `(start, end)` pairs in local minutes since midnight,
    `0 <= start < end <= 1440`, sorted and not overlapping; a weekday without pairs is not worked.
    """

    time_zone: str
    hours: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.hours) != 7:
            raise ValueError("hours must list the seven weekdays")
        if not any(self.hours):
            raise ValueError("a calendar needs at least one working interval")
        for day in self.hours:
            previous_end = 0
            for start, end in day:
                if not 0 <= start < end <= MINUTES_PER_DAY or start < previous_end:
                    raise ValueError("working intervals must be increasing and not overlap")
                previous_end = end

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.time_zone)


ALWAYS_OPEN = BusinessCalendar(time_zone="UTC", hours=(((0, MINUTES_PER_DAY),),) * 7)


def _local_instant(day: dt.date, minute: int, zone: ZoneInfo) -> dt.datetime:
    midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    if minute == MINUTES_PER_DAY:
        following = day + dt.timedelta(days=1)
        return dt.datetime(following.year, following.month, following.day, tzinfo=zone)
    return midnight.replace(hour=minute // 60, minute=minute % 60)


def _windows_from(
    calendar: BusinessCalendar, start: dt.datetime
) -> Iterator[tuple[dt.datetime, dt.datetime]]:
    """The working windows (UTC instants) that end after `start`, in order, clipped to it."""
    zone = calendar.zone
    start = _as_utc(start)
    day = start.astimezone(zone).date() - dt.timedelta(days=1)  # a window may cross midnight UTC
    idle_days = 0
    while idle_days < _MAX_DAYS_WITHOUT_WORK:
        produced = False
        if day not in calendar.holidays:
            for begin_minute, end_minute in calendar.hours[day.weekday()]:
                begin = _local_instant(day, begin_minute, zone).astimezone(dt.UTC)
                end = _local_instant(day, end_minute, zone).astimezone(dt.UTC)
                if end <= start or end <= begin:
                    continue
                produced = True
                yield max(begin, start), end
        idle_days = 0 if produced else idle_days + 1
        day += dt.timedelta(days=1)
    raise ValueError("the calendar has no working time")


def _as_utc(instant: dt.datetime) -> dt.datetime:
    if instant.tzinfo is None:
        raise ValueError("business time needs aware datetimes")
    return instant.astimezone(dt.UTC)


def add_business_minutes(
    start: dt.datetime, minutes: int, calendar: BusinessCalendar
) -> dt.datetime:
    """The instant (UTC) at which `minutes` business minutes have passed since `start`.

    Zero minutes is `start` itself, even outside working hours."""
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    remaining = dt.timedelta(minutes=minutes)
    if not remaining:
        return _as_utc(start)
    for begin, end in _windows_from(calendar, start):
        available = end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError("unreachable")  # pragma: no cover - _windows_from raises first


def business_minutes_between(
    start: dt.datetime, end: dt.datetime, calendar: BusinessCalendar
) -> int:
    """Whole business minutes that passed from `start` to `end` (0 when `end` is not later)."""
    start, end = _as_utc(start), _as_utc(end)
    if end <= start:
        return 0
    total = dt.timedelta()
    for begin, window_end in _windows_from(calendar, start):
        if begin >= end:
            break
        total += min(window_end, end) - begin
    return total // _MINUTE
