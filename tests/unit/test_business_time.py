"""Business-minute arithmetic across weekends, holidays and daylight-saving changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.tickets.business_time import (
    ALWAYS_OPEN,
    BusinessCalendar,
    add_business_minutes,
    business_minutes_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_FIVE = ((9 * 60, 17 * 60),)
WEEKDAYS = (NINE_TO_FIVE,) * 5 + ((), ())


def berlin(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=BERLIN)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


BERLIN_OFFICE = BusinessCalendar(
    time_zone="Europe/Berlin",
    hours=WEEKDAYS,
    holidays=frozenset({dt.date(2026, 4, 3), dt.date(2026, 4, 6)}),  # Good Friday, Easter Monday
)


def test_inside_one_working_day() -> None:
    assert add_business_minutes(berlin(2026, 3, 24, 10, 0), 90, BERLIN_OFFICE) == utc(
        2026, 3, 24, 10, 30
    )


def test_across_a_weekend_with_the_spring_clock_change() -> None:
    # Friday 16:00 CET; clocks move to CEST on Sunday 29 March; Monday 10:00 CEST is 08:00 UTC.
    friday = berlin(2026, 3, 27, 16, 0)
    due = add_business_minutes(friday, 120, BERLIN_OFFICE)
    assert due == utc(2026, 3, 30, 8, 0)
    assert due.astimezone(BERLIN) == berlin(2026, 3, 30, 10, 0)
    assert business_minutes_between(friday, due, BERLIN_OFFICE) == 120


def test_across_easter_holidays() -> None:
    thursday = berlin(2026, 4, 2, 16, 30)
    due = add_business_minutes(thursday, 60, BERLIN_OFFICE)
    assert due.astimezone(BERLIN) == berlin(2026, 4, 7, 9, 30)
    assert business_minutes_between(thursday, due, BERLIN_OFFICE) == 60
    # The whole holiday weekend counts nothing.
    assert (
        business_minutes_between(berlin(2026, 4, 2, 17), berlin(2026, 4, 7, 9), BERLIN_OFFICE) == 0
    )


def test_start_outside_hours_begins_at_next_opening() -> None:
    saturday = berlin(2026, 3, 21, 12, 0)
    assert add_business_minutes(saturday, 1, BERLIN_OFFICE).astimezone(BERLIN) == berlin(
        2026, 3, 23, 9, 1
    )
    assert add_business_minutes(saturday, 0, BERLIN_OFFICE) == saturday


def test_a_working_day_that_loses_an_hour_counts_23_hours() -> None:
    all_day = BusinessCalendar(time_zone="America/New_York", hours=(((0, 1440),),) * 7)
    sunday = dt.datetime(2026, 3, 8, tzinfo=NEW_YORK)
    monday = dt.datetime(2026, 3, 9, tzinfo=NEW_YORK)
    assert business_minutes_between(sunday, monday, all_day) == 23 * 60
    assert add_business_minutes(sunday, 23 * 60, all_day) == monday.astimezone(dt.UTC)


def test_autumn_change_in_new_york_working_hours() -> None:
    office = BusinessCalendar(time_zone="America/New_York", hours=WEEKDAYS)
    # Friday 30 October 2026 16:00 EDT (20:00 UTC); Sunday 1 November clocks go back to EST.
    friday = dt.datetime(2026, 10, 30, 16, 0, tzinfo=NEW_YORK)
    due = add_business_minutes(friday, 8 * 60, office)
    assert due == utc(2026, 11, 2, 21, 0)  # Monday 16:00 EST
    assert business_minutes_between(friday, due, office) == 8 * 60


def test_split_day_and_between_is_zero_backwards() -> None:
    split = BusinessCalendar(time_zone="UTC", hours=(((8 * 60, 12 * 60), (13 * 60, 17 * 60)),) * 7)
    assert add_business_minutes(utc(2026, 1, 5, 11, 30), 60, split) == utc(2026, 1, 5, 13, 30)
    assert business_minutes_between(utc(2026, 1, 5, 17), utc(2026, 1, 5, 9), split) == 0


@pytest.mark.parametrize(
    "hours",
    [
        (((9 * 60, 17 * 60), (16 * 60, 18 * 60)),) + ((),) * 6,  # overlapping
        (((17 * 60, 9 * 60),),) + ((),) * 6,  # inverted
        ((),) * 7,  # never works
    ],
)
def test_bad_hours_are_refused(hours: tuple[tuple[tuple[int, int], ...], ...]) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar(time_zone="UTC", hours=hours)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        add_business_minutes(dt.datetime(2026, 1, 1), 5, ALWAYS_OPEN)


@given(
    start=st.datetimes(
        min_value=dt.datetime(2025, 1, 1),
        max_value=dt.datetime(2028, 1, 1),
        timezones=st.just(dt.UTC),
    ),
    minutes=st.integers(min_value=0, max_value=20_000),
)
def test_adding_then_counting_returns_the_minutes(start: dt.datetime, minutes: int) -> None:
    start = start.replace(second=0, microsecond=0)
    due = add_business_minutes(start, minutes, BERLIN_OFFICE)
    assert due >= start
    assert business_minutes_between(start, due, BERLIN_OFFICE) == minutes
