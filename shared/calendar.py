"""Business hours: when a team counts as open, and how much open time lies ahead.

Decides three things for the SLA clock (DESIGN.md sections 4 and 6): whether a team is
open at an instant, the first open instant at or after one, and the instant at which a
given amount of open time has elapsed. Hours are wall-clock windows in the team's time
zone; public holidays of the team's country (the `holidays` package) close the whole day.

Times are walked window by window in local wall-clock time and every window boundary is
converted to UTC through zoneinfo, so a DST change shortens or lengthens the day exactly
as a clock on the team's wall would. All results are timezone-aware UTC. Pure: no I/O, no
clock; the caller passes every instant in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as _holidays

__all__ = [
    "MAX_CLOSED_DAYS",
    "BusinessCalendar",
    "WeeklyHours",
    "Window",
    "parse_hours",
]

MINUTES_PER_DAY = 24 * 60
# A calendar with no open time for a year and a bit is a configuration mistake, not a
# long weekend: stop walking rather than loop for ever.
MAX_CLOSED_DAYS = 370

Window = tuple[int, int]
"""An open window within one day: (start, end) in minutes since local midnight,
0 <= start < end <= 1440 (1440 is `24:00`, the end of the day)."""

_DAY_NAMES: dict[str, int] = {
    "mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6,
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
}  # fmt: skip
_WEEKDAY_LABELS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Open windows per weekday: `days[0]` is Monday, `days[6]` Sunday; each a sorted
    tuple of non-overlapping, non-adjacent windows. A day with no windows is closed."""

    days: tuple[tuple[Window, ...], ...]

    def __post_init__(self) -> None:
        if len(self.days) != 7:
            raise ValueError(f"WeeklyHours needs 7 days (Monday first), got {len(self.days)}")
        for weekday, windows in enumerate(self.days):
            previous_end = -1
            for start, end in windows:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ValueError(
                        f"{_WEEKDAY_LABELS[weekday]}: window {start}-{end} is not within a day"
                    )
                if start <= previous_end:
                    raise ValueError(
                        f"{_WEEKDAY_LABELS[weekday]}: windows must be sorted and must not "
                        "overlap or touch"
                    )
                previous_end = end

    @classmethod
    def always(cls) -> WeeklyHours:
        """Open all day, every day."""
        return cls(days=tuple(((0, MINUTES_PER_DAY),) for _ in range(7)))

    def windows(self, weekday: int) -> tuple[Window, ...]:
        """The open windows of a weekday (0 = Monday)."""
        return self.days[weekday]


def parse_hours(hours: Mapping[str, str] | object) -> WeeklyHours:
    """Parse the org file's `hours` mapping into `WeeklyHours`.

    Keys name days: `mon`, a range `mon-fri` (a range may wrap: `fri-mon`), a list
    `mon,wed`, or a mix `mon-wed,fri`. Values are one or more `HH:MM-HH:MM` windows
    separated by commas, `24:00` meaning the end of the day. Days not named are closed.
    Raises ValueError naming the key and the problem: an unknown day, a day named twice,
    a malformed time, a window that ends before it starts or crosses midnight, windows
    that overlap, or no open time at all. Wrong types are ValueErrors too, so a pydantic
    validator calling this reports them as validation errors.
    """
    if not isinstance(hours, Mapping):
        kind = type(hours).__name__
        raise ValueError(f"hours must be a mapping of days to windows, got {kind}")
    if not hours:
        raise ValueError("hours has no open time; name at least one day, e.g. mon-fri")
    per_day: list[list[Window] | None] = [None] * 7
    for key, value in hours.items():
        if not isinstance(key, str):
            raise ValueError(
                f"hours key {key!r} must be a string of days such as 'mon-fri'"
            )
        weekdays = _parse_days(key)
        windows = _parse_windows(key, value)
        for weekday in weekdays:
            if per_day[weekday] is not None:
                raise ValueError(
                    f"hours {key!r}: {_WEEKDAY_LABELS[weekday]} is already covered by "
                    "another key; list each day once"
                )
            per_day[weekday] = windows
    return WeeklyHours(days=tuple(tuple(windows or ()) for windows in per_day))


def _parse_days(key: str) -> list[int]:
    weekdays: list[int] = []
    for part in key.split(","):
        part = part.strip().lower()
        if not part:
            raise ValueError(f"hours {key!r}: empty day in the list")
        if "-" in part:
            first_name, _, last_name = part.partition("-")
            first, last = _day(key, first_name), _day(key, last_name)
            span = (last - first) % 7
            weekdays.extend((first + offset) % 7 for offset in range(span + 1))
        else:
            weekdays.append(_day(key, part))
    if len(set(weekdays)) != len(weekdays):
        raise ValueError(f"hours {key!r}: a day is named twice")
    return weekdays


def _day(key: str, name: str) -> int:
    weekday = _DAY_NAMES.get(name.strip())
    if weekday is None:
        raise ValueError(
            f"hours {key!r}: {name.strip()!r} is not a day; use mon, tue, wed, thu, fri, sat, "
            "sun, a range such as mon-fri or a list such as mon,wed"
        )
    return weekday


def _parse_windows(key: str, value: object) -> list[Window]:
    if not isinstance(value, str):
        raise ValueError(
            f"hours {key!r}: {value!r} must be a string such as '09:00-18:00'"
        )
    windows: list[Window] = []
    for part in value.split(","):
        text = part.strip()
        start_text, dash, end_text = text.partition("-")
        if not dash:
            raise ValueError(
                f"hours {key!r}: {text!r} is not a window; write HH:MM-HH:MM, e.g. 09:00-18:00"
            )
        start = _minutes(key, start_text, allow_end_of_day=False)
        end = _minutes(key, end_text, allow_end_of_day=True)
        if end <= start:
            raise ValueError(
                f"hours {key!r}: {text!r} ends before it starts; a window cannot cross "
                "midnight (use 24:00 for the end of the day and open the next day at 00:00)"
            )
        windows.append((start, end))
    windows.sort()
    merged: list[Window] = []
    for start, end in windows:
        if merged and start < merged[-1][1]:
            raise ValueError(f"hours {key!r}: windows in {value!r} overlap")
        if merged and start == merged[-1][1]:
            # 09:00-12:00,12:00-18:00 is one stretch of open time.
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _minutes(key: str, text: str, *, allow_end_of_day: bool) -> int:
    match = _TIME_RE.match(text.strip())
    if match:
        hour, minute = int(match.group(1)), int(match.group(2))
        if hour == 24 and minute == 0 and allow_end_of_day:
            return MINUTES_PER_DAY
        if hour < 24 and minute < 60:
            return hour * 60 + minute
    allowed = "00:00 to 24:00" if allow_end_of_day else "00:00 to 23:59"
    raise ValueError(f"hours {key!r}: {text.strip()!r} is not a time of day (HH:MM, {allowed})")


@lru_cache(maxsize=512)
def _holiday_dates(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    # Building a country's holidays for a year costs milliseconds; the SLA loop asks for
    # the same few years over and over, so keep them for the life of the process.
    return frozenset(_holidays.country_holidays(country, subdiv=subdivision, years=year).keys())


class BusinessCalendar:
    """A team's open time: its time zone, weekly hours and public holidays.

    `hours=None` means open all day, every day. `holiday_country` is an ISO 3166-1
    alpha-2 code, optionally with a subdivision (`US`, `DE-BY`, `US-CA`); its public
    holidays close the whole local day, also for an always-open calendar.
    """

    __slots__ = ("_country", "_hours", "_subdivision", "_zone", "timezone")

    def __init__(
        self, timezone: str, hours: WeeklyHours | None, holiday_country: str | None
    ) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {timezone!r}") from exc
        self.timezone = timezone
        self._hours = hours if hours is not None else WeeklyHours.always()
        self._country: str | None = None
        self._subdivision: str | None = None
        if holiday_country:
            country, _, subdivision = holiday_country.strip().upper().partition("-")
            try:
                _holiday_dates(country, subdivision or None, 2000)
            except NotImplementedError as exc:
                raise ValueError(
                    f"no public holidays known for {holiday_country!r}; use an ISO 3166-1 "
                    "alpha-2 code such as US or DE, optionally with a subdivision (DE-BY)"
                ) from exc
            self._country, self._subdivision = country, subdivision or None

    def __repr__(self) -> str:
        country = self._country
        if country and self._subdivision:
            country = f"{country}-{self._subdivision}"
        return f"BusinessCalendar({self.timezone!r}, holiday_country={country!r})"

    def is_holiday(self, day: date) -> bool:
        """Whether a local date is a public holiday of the calendar's country."""
        if self._country is None:
            return False
        return day in _holiday_dates(self._country, self._subdivision, day.year)

    def is_open(self, at: datetime) -> bool:
        """Whether the team is open at an instant."""
        at = _as_utc(at, "at")
        day = at.astimezone(self._zone).date()
        return any(start <= at < end for start, end in self._day_intervals(day))

    def next_open(self, at: datetime) -> datetime:
        """The first open instant at or after `at` (UTC); `at` itself when open."""
        at = _as_utc(at, "at")
        start, _ = next(self._intervals_from(at))
        return start

    def add_business_time(self, start: datetime, duration: timedelta) -> datetime:
        """The instant (UTC) at which `duration` of open time has passed since `start`.

        Closed time (nights, closed days, holidays) does not count. When the duration runs
        out exactly at the end of a window the result is that window's end, not the next
        opening. A zero duration returns `start` unchanged. Raises ValueError for a
        negative duration or a calendar with no open time within MAX_CLOSED_DAYS.
        """
        start = _as_utc(start, "start")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration}")
        if duration == timedelta(0):
            return start
        remaining = duration
        for window_start, window_end in self._intervals_from(start):
            available = window_end - window_start
            if remaining <= available:
                return window_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_from only ends by raising")

    def _intervals_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals in UTC, in order, clipped to begin no earlier than `at`."""
        day = at.astimezone(self._zone).date()
        closed_days = 0
        while True:
            found = False
            for start, end in self._day_intervals(day):
                if end <= at:
                    continue
                found = True
                yield max(start, at), end
            closed_days = 0 if found else closed_days + 1
            if closed_days > MAX_CLOSED_DAYS:
                raise ValueError(
                    f"{self!r} has no open time in {MAX_CLOSED_DAYS} days after {at.isoformat()}"
                )
            day += timedelta(days=1)

    def _day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open windows of a local date as UTC intervals; none on a holiday."""
        windows = self._hours.windows(day.weekday())
        if not windows or self.is_holiday(day):
            return []
        intervals = []
        for start_minute, end_minute in windows:
            start = self._local_to_utc(day, start_minute)
            end = self._local_to_utc(day, end_minute)
            # A window inside a skipped DST hour has no real duration.
            if end > start:
                intervals.append((start, end))
        return intervals

    def _local_to_utc(self, day: date, minute: int) -> datetime:
        if minute == MINUTES_PER_DAY:
            day, minute = day + timedelta(days=1), 0
        # fold=0: a wall time repeated when clocks go back means its first occurrence; one
        # skipped when they go forward is read with the offset in force before the change.
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._zone)
        return local.astimezone(UTC)


def _as_utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)
