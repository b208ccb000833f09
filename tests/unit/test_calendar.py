"""Business hours: parsing the org file's `hours`, open/closed, and counting open time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from shared.calendar import BusinessCalendar, WeeklyHours, parse_hours

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
CLOSED: tuple[tuple[int, int], ...] = ()
NINE_TO_SIX = ((9 * 60, 18 * 60),)


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0):
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def us_office(hours: dict[str, str] | None = None) -> BusinessCalendar:
    return BusinessCalendar(
        "America/New_York", parse_hours(hours or {"mon-fri": "09:00-18:00"}), "US"
    )


# --------------------------------------------------------------------------- parse_hours


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        pytest.param(
            {"mon-fri": "09:00-18:00"},
            (NINE_TO_SIX,) * 5 + (CLOSED, CLOSED),
            id="weekday-range",
        ),
        pytest.param(
            {"mon-sun": "00:00-24:00"},
            (((0, 1440),),) * 7,
            id="24:00-is-end-of-day",
        ),
        pytest.param(
            {"mon,wed": "09:00-12:00,13:00-18:00"},
            (
                ((540, 720), (780, 1080)),
                CLOSED,
                ((540, 720), (780, 1080)),
                CLOSED,
                CLOSED,
                CLOSED,
                CLOSED,
            ),
            id="day-list-and-lunch-break",
        ),
        pytest.param(
            {"mon-fri": "09:00-18:00", "sat": "10:00-14:00"},
            (NINE_TO_SIX,) * 5 + (((600, 840),), CLOSED),
            id="single-day-key",
        ),
        pytest.param(
            {"fri-mon": "08:00-09:00"},
            (((480, 540),), CLOSED, CLOSED, CLOSED, ((480, 540),), ((480, 540),), ((480, 540),)),
            id="range-wrapping-the-weekend",
        ),
        pytest.param(
            {"MON - WED, fri": " 13:00-18:00 , 09:00-12:00 "},
            (((540, 720), (780, 1080)),) * 3 + (CLOSED, ((540, 720), (780, 1080)), CLOSED, CLOSED),
            id="case-spaces-and-unsorted-windows",
        ),
        pytest.param(
            {"tue": "09:00-12:00,12:00-18:00"},
            (CLOSED, NINE_TO_SIX, CLOSED, CLOSED, CLOSED, CLOSED, CLOSED),
            id="touching-windows-merge",
        ),
        pytest.param(
            {"sun": "9:30-17:45"},
            (CLOSED,) * 6 + (((570, 1065),),),
            id="one-digit-hour",
        ),
    ],
)
def test_hours_parse_into_windows_per_weekday(hours, expected):
    assert parse_hours(hours).days == expected


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        pytest.param({"mon-fry": "09:00-18:00"}, "'fry' is not a day", id="unknown-day"),
        pytest.param({"mon": "9-17"}, "'9' is not a time of day", id="no-minutes"),
        pytest.param({"mon": "09:00-25:00"}, "'25:00' is not a time of day", id="hour-25"),
        pytest.param({"mon": "09:60-18:00"}, "'09:60' is not a time of day", id="minute-60"),
        pytest.param({"mon": "24:00-24:00"}, "'24:00' is not a time of day", id="start-24"),
        pytest.param({"mon": "18:00-09:00"}, "ends before it starts", id="crosses-midnight"),
        pytest.param({"mon": "09:00-09:00"}, "ends before it starts", id="empty-window"),
        pytest.param({"mon": "09:00"}, "is not a window", id="no-end"),
        pytest.param({"mon": "09:00-12:00,11:00-13:00"}, "overlap", id="overlapping"),
        pytest.param(
            {"mon-fri": "09:00-18:00", "fri": "09:00-16:00"},
            "fri is already covered",
            id="day-twice",
        ),
        pytest.param({"mon,mon": "09:00-18:00"}, "named twice", id="day-twice-in-one-key"),
        pytest.param({}, "no open time", id="empty"),
        pytest.param({"mon": 9}, "must be a string", id="not-a-string"),
        pytest.param(["mon-fri"], "must be a mapping", id="not-a-mapping"),
    ],
)
def test_malformed_hours_are_rejected_with_the_key_and_the_problem(hours, message):
    with pytest.raises(ValueError, match=message):
        parse_hours(hours)


# --------------------------------------------------------------------------- is_open


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        pytest.param(ny(2026, 3, 10, 9, 0), True, id="opening-minute-is-open"),
        pytest.param(ny(2026, 3, 10, 17, 59, 59), True, id="last-second-is-open"),
        pytest.param(ny(2026, 3, 10, 18, 0), False, id="closing-time-is-closed"),
        pytest.param(ny(2026, 3, 10, 8, 59), False, id="before-opening"),
        pytest.param(ny(2026, 3, 7, 12, 0), False, id="saturday"),
        pytest.param(ny(2026, 7, 3, 12, 0), False, id="observed-independence-day"),
        pytest.param(ny(2026, 11, 26, 12, 0), False, id="thanksgiving"),
        pytest.param(utc(2026, 3, 10, 14, 0), True, id="utc-instant-10am-in-new-york"),
        pytest.param(utc(2026, 3, 10, 22, 30), False, id="utc-instant-6-30pm-in-new-york"),
    ],
)
def test_is_open_follows_local_hours_and_holidays(at, is_open):
    assert us_office().is_open(at) is is_open


@pytest.mark.parametrize(
    ("holidays", "is_open"),
    [
        pytest.param("DE-BY", False, id="epiphany-is-a-holiday-in-bavaria"),
        pytest.param("DE-BE", True, id="epiphany-is-a-working-day-in-berlin"),
        pytest.param(None, True, id="no-holiday-country"),
    ],
)
def test_holiday_country_may_name_a_subdivision(holidays, is_open):
    calendar = BusinessCalendar("Europe/Berlin", parse_hours({"mon-fri": "08:00-17:00"}), holidays)
    assert calendar.is_open(datetime(2026, 1, 6, 10, 0, tzinfo=BERLIN)) is is_open


def test_window_ending_at_24_00_is_open_until_midnight():
    calendar = BusinessCalendar("America/New_York", parse_hours({"mon-sun": "18:00-24:00"}), None)
    assert calendar.is_open(ny(2026, 3, 10, 23, 59, 59))
    assert not calendar.is_open(ny(2026, 3, 11, 0, 0))


# --------------------------------------------------------------------------- add_business_time


@pytest.mark.parametrize(
    ("start", "duration", "deadline"),
    [
        pytest.param(
            ny(2026, 9, 4, 17, 30),
            timedelta(hours=4),
            ny(2026, 9, 8, 12, 30),
            id="friday-17:30-before-labor-day-resumes-tuesday",
        ),
        pytest.param(
            ny(2026, 7, 2, 17, 30),
            timedelta(hours=4),
            ny(2026, 7, 6, 12, 30),
            id="thursday-before-observed-independence-day-resumes-monday",
        ),
        pytest.param(
            ny(2026, 9, 4, 17, 30),
            timedelta(hours=24),
            ny(2026, 9, 10, 14, 30),
            id="24-business-hours-over-a-holiday-weekend",
        ),
        pytest.param(
            ny(2026, 3, 10, 10, 0),
            timedelta(hours=2),
            ny(2026, 3, 10, 12, 0),
            id="within-one-window",
        ),
        pytest.param(
            ny(2026, 3, 10, 7, 0),
            timedelta(hours=1),
            ny(2026, 3, 10, 10, 0),
            id="before-opening-starts-at-opening",
        ),
        pytest.param(
            ny(2026, 3, 10, 9, 0),
            timedelta(hours=9),
            ny(2026, 3, 10, 18, 0),
            id="running-out-at-closing-time-is-closing-time",
        ),
        pytest.param(
            ny(2026, 3, 10, 9, 0),
            timedelta(hours=27),
            ny(2026, 3, 12, 18, 0),
            id="three-full-days",
        ),
        pytest.param(
            ny(2026, 3, 7, 12, 0),
            timedelta(minutes=30),
            ny(2026, 3, 9, 9, 30),
            id="weekend-start-waits-for-monday",
        ),
    ],
)
def test_business_time_counts_only_open_hours(start, duration, deadline):
    assert us_office().add_business_time(start, duration) == deadline


@pytest.mark.parametrize(
    ("start", "deadline_utc"),
    [
        pytest.param(
            ny(2026, 3, 6, 17, 30),
            utc(2026, 3, 9, 16, 30),
            id="spring-forward-monday-12:30-is-edt",
        ),
        pytest.param(
            ny(2026, 10, 30, 17, 30),
            utc(2026, 11, 2, 17, 30),
            id="fall-back-monday-12:30-is-est",
        ),
    ],
)
def test_business_time_keeps_wall_clock_hours_across_dst_changes(start, deadline_utc):
    deadline = us_office().add_business_time(start, timedelta(hours=4))
    assert deadline == deadline_utc
    assert deadline.astimezone(NEW_YORK).hour == 12


def test_business_time_is_returned_in_utc():
    deadline = us_office().add_business_time(ny(2026, 3, 10, 10, 0), timedelta(hours=1))
    assert deadline.tzinfo is UTC
    assert deadline == utc(2026, 3, 10, 15, 0)


def test_lunch_break_is_not_counted():
    calendar = us_office({"mon-fri": "09:00-12:00,13:00-18:00"})
    assert calendar.add_business_time(ny(2026, 3, 10, 11, 30), timedelta(hours=1)) == ny(
        2026, 3, 10, 13, 30
    )


@pytest.mark.parametrize(
    ("hours", "start", "deadline"),
    [
        pytest.param(
            {"mon-sun": "18:00-24:00"},
            ny(2026, 3, 10, 23, 30),
            ny(2026, 3, 11, 18, 30),
            id="evening-window-runs-to-midnight",
        ),
        pytest.param(
            {"mon-sun": "00:00-24:00"},
            ny(2026, 3, 10, 23, 30),
            ny(2026, 3, 11, 0, 30),
            id="round-the-clock-continues-past-midnight",
        ),
    ],
)
def test_24_00_end_counts_the_last_hour_of_the_day(hours, start, deadline):
    calendar = BusinessCalendar("America/New_York", parse_hours(hours), None)
    assert calendar.add_business_time(start, timedelta(hours=1)) == deadline


def test_always_open_calendar_counts_real_elapsed_time_across_dst():
    calendar = BusinessCalendar("America/New_York", None, None)
    start = ny(2026, 3, 7, 23, 0)  # the night clocks skip 02:00-03:00
    deadline = calendar.add_business_time(start, timedelta(hours=4))
    # Aware arithmetic in one zone is wall-clock arithmetic; real time is UTC arithmetic.
    assert deadline == start.astimezone(UTC) + timedelta(hours=4)
    assert deadline.astimezone(NEW_YORK) == ny(2026, 3, 8, 4, 0)


def test_always_open_calendar_still_closes_on_public_holidays():
    calendar = BusinessCalendar("America/New_York", None, "US")
    # Thursday 23:00, then Friday 3 July (observed) and Saturday 4 July are closed.
    assert calendar.add_business_time(ny(2026, 7, 2, 23, 0), timedelta(hours=2)) == ny(
        2026, 7, 5, 1, 0
    )


def test_long_durations_walk_window_by_window():
    calendar = BusinessCalendar("UTC", parse_hours({"mon-fri": "09:00-18:00"}), None)
    # 450 h is fifty 9-hour days: ten working weeks from Monday 5 January 2026.
    assert calendar.add_business_time(utc(2026, 1, 5, 9, 0), timedelta(hours=450)) == utc(
        2026, 3, 13, 18, 0
    )


def test_zero_duration_is_the_start_itself():
    start = ny(2026, 3, 7, 12, 0)
    assert us_office().add_business_time(start, timedelta(0)) == start


# --------------------------------------------------------------------------- next_open


@pytest.mark.parametrize(
    ("at", "opens"),
    [
        pytest.param(ny(2026, 3, 10, 10, 15), ny(2026, 3, 10, 10, 15), id="open-now"),
        pytest.param(ny(2026, 3, 10, 18, 0), ny(2026, 3, 11, 9, 0), id="after-closing"),
        pytest.param(ny(2026, 3, 7, 12, 0), utc(2026, 3, 9, 13, 0), id="weekend-into-edt"),
        pytest.param(ny(2026, 7, 2, 18, 30), ny(2026, 7, 6, 9, 0), id="over-a-holiday"),
    ],
)
def test_next_open_is_the_first_open_instant_at_or_after(at, opens):
    result = us_office().next_open(at)
    assert result == opens
    assert result.tzinfo is UTC


# --------------------------------------------------------------------------- errors


def test_calendar_without_open_time_gives_up_after_370_days():
    never = BusinessCalendar("UTC", WeeklyHours(days=(CLOSED,) * 7), None)
    with pytest.raises(ValueError, match="no open time in 370 days"):
        never.add_business_time(utc(2026, 1, 1), timedelta(minutes=1))
    with pytest.raises(ValueError, match="no open time in 370 days"):
        never.next_open(utc(2026, 1, 1))


@pytest.mark.parametrize(
    ("timezone", "country", "message"),
    [
        pytest.param("Mars/Olympus_Mons", None, "unknown time zone", id="time-zone"),
        pytest.param("UTC", "XX", "no public holidays known for 'XX'", id="holiday-country"),
        pytest.param("UTC", "US-ZZ", "no public holidays known", id="subdivision"),
    ],
)
def test_unknown_zone_or_holiday_country_is_a_value_error(timezone, country, message):
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(timezone, None, country)


NAIVE = datetime(2026, 3, 10, 10)  # noqa: DTZ001 - a time without a zone, to be refused


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c: c.is_open(NAIVE), id="is_open"),
        pytest.param(lambda c: c.next_open(NAIVE), id="next_open"),
        pytest.param(
            lambda c: c.add_business_time(NAIVE, timedelta(hours=1)),
            id="add_business_time",
        ),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call(us_office())


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match="negative"):
        us_office().add_business_time(ny(2026, 3, 10, 10), timedelta(minutes=-1))


def test_weekly_hours_refuse_overlapping_windows():
    with pytest.raises(ValueError, match="overlap"):
        WeeklyHours(days=(((540, 720), (700, 800)),) + (CLOSED,) * 6)
