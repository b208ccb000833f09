"""Teams and reps: who takes leads, in which rotation, when (hours, holidays, leave) and
how the team hears of them (notify)."""

from __future__ import annotations

import re
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from shared.conditions import (
    OrgError,
)
from shared.org.base import _Model
from shared.org.durations import Name, NonNegativeInt, PositiveInt

if TYPE_CHECKING:
    from shared.calendar import BusinessCalendar


# --- teams -----------------------------------------------------------------------------

class Leave(_Model):
    """A rep's absence, both days included."""

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Leave:
        if self.to < self.from_:
            raise OrgError("to", f"ends before it starts ({self.from_.isoformat()})")
        return self


class Rep(_Model):
    id: Name
    name: str | None = None
    email: str | None = None
    weight: PositiveInt = 1
    capacity: NonNegativeInt | None = None  # open assignments at most; None: no cap
    leave: list[Leave] = Field(default_factory=list)

    def on_leave(self, day: date) -> bool:
        return any(period.from_ <= day <= period.to for period in self.leave)


NotifyOn = Literal["assigned", "warning", "breached"]
QueueOrder = Literal["oldest", "hottest"]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Notify(_Model):
    """A team's outbound webhook (Slack-compatible incoming-webhook JSON). The URL is a
    secret in most tools, so it may be named by an environment variable instead."""

    webhook_url: str | None = None
    webhook_url_env: str | None = None
    on: list[NotifyOn] = Field(default_factory=lambda: list(get_args(NotifyOn)))

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("webhook_url_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError("must be an environment variable name like LEADFLOW_SLACK_URL")
        return value

    @model_validator(mode="after")
    def _one_url(self) -> Notify:
        if (self.webhook_url is None) == (self.webhook_url_env is None):
            raise ValueError("give exactly one of webhook_url or webhook_url_env")
        return self


class Team(_Model):
    id: Name
    strategy: Literal["round_robin", "weighted", "least_loaded"] = "round_robin"
    timezone: str = "UTC"
    hours: dict[str, str] | None = None  # None: always open
    holidays: str | None = None  # US, GB, DE-BY: see shared.calendar
    # queue: reps are not eligible while the team is closed (hours, holidays), so leads go
    # to the fallback queue; assign: hours only drive business-clock SLAs.
    outside_hours: Literal["queue", "assign"] = "queue"
    reps: list[Rep]
    fallback_queue: str | None = None
    # Follow the sun: teams tried in order (and theirs after them) when none of this
    # team's reps is eligible, before the fallback queue.
    overflow: list[Name] = Field(default_factory=list)
    # How the fallback queue is dealt when a rep becomes eligible: oldest first, or
    # hottest first (temperature, then points, then age).
    queue_order: QueueOrder = "oldest"
    notify: Notify | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (expected an IANA name like Europe/London)"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            _check_hours(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if value is not None:
            _check_holidays(value)
        return value

    @field_validator("reps")
    @classmethod
    def _staffed(cls, value: list[Rep]) -> list[Rep]:
        if not value:
            raise ValueError("a team needs at least one rep")
        return value

    @property
    def queue(self) -> str:
        """The queue this team's leads wait in when none of its reps is eligible: the org
        file's `fallback_queue`, else `<team>-unassigned`."""
        return self.fallback_queue or f"{self.id}-unassigned"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def calendar(self) -> BusinessCalendar:
        """The team's open time (hours, time zone, holidays) for business-clock SLAs."""
        from shared.calendar import BusinessCalendar, parse_hours

        hours = parse_hours(self.hours) if self.hours is not None else None
        return BusinessCalendar(self.timezone, hours, self.holidays)


def _check_hours(hours: dict[str, str]) -> None:
    # shared.calendar owns the meaning of business hours and holiday codes; imported here,
    # not at the top, so that the two modules never depend on each other's import order.
    from shared.calendar import parse_hours

    try:
        parse_hours(hours)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(str(exc)) from None


def _check_holidays(country: str) -> None:
    from shared.calendar import BusinessCalendar

    BusinessCalendar("UTC", None, country)  # raises ValueError naming the code
