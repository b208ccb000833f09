"""Durations and the small value types of the org file: `5m`, `1h30m`, `2d`; positive
and non-negative integers; non-empty names."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    PlainSerializer,
    StrictInt,
)

if TYPE_CHECKING:
    pass


# --- durations -------------------------------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(s: str) -> timedelta:
    """`90s`, `5m`, `4h`, `2d` and combinations in that order (`1h30m`, `1d12h`)."""
    match = _DURATION.fullmatch(s.strip()) if isinstance(s, str) else None
    if not match or not any(match.groups()):
        raise ValueError(f"{s!r} is not a duration like 90s, 5m, 4h, 2d or 1h30m")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def format_duration(td: timedelta) -> str:
    """The inverse of parse_duration, so a dumped org file reads back the same."""
    rest = int(td.total_seconds())
    if rest == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, rest = divmod(rest, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        # ValueError, not TypeError: pydantic reports only ValueError as a validation error.
        raise ValueError("must be a duration like 90s, 5m, 4h or 2d")
    return parse_duration(value)


def _positive_duration(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
PositiveDuration = Annotated[Duration, AfterValidator(_positive_duration)]


def _positive(value: int) -> int:
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _non_negative(value: int) -> int:
    if value < 0:
        raise ValueError("must be zero or a positive integer")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


PositiveInt = Annotated[StrictInt, AfterValidator(_positive)]
NonNegativeInt = Annotated[StrictInt, AfterValidator(_non_negative)]
Name = Annotated[str, AfterValidator(_non_empty)]
