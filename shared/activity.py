"""A person's activities as every service keeps them: what one is, when it happened, when
two are the same, and how a person's list grows.

An activity is `{"type", "at", "props"}` (DESIGN.md section 4) on a lead or in a profile.
Its time is read in UTC (a time written without an offset is UTC); one type at one instant
is one activity, whatever offset it was written in, so a redelivered or re-imported
activity counts once. A person keeps at most `MAX_ACTIVITIES`, the latest: what a score
needs, and a lead event stays well under a megabyte. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

MAX_ACTIVITIES = 200

Activity = dict[str, Any]


def instant(activity: Activity) -> datetime | None:
    """The activity's `at` in UTC, or None when it is not an ISO 8601 date-time (or lies
    past year 9999 once in UTC, as 9999-12-31T23:30:00-05:00 does)."""
    at = activity.get("at")
    if isinstance(at, str):
        text = at.strip()
        if text[-1:] in ("Z", "z"):
            text = text[:-1] + "+00:00"
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            return None
    if not isinstance(at, datetime):
        return None
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        return None


def countable(activity: Any) -> bool:
    """An activity a score can count: a non-empty text type, a readable time, and props
    (if any) as an object."""
    return (isinstance(activity, dict) and isinstance(activity.get("type"), str)
            and bool(activity["type"]) and instant(activity) is not None
            and isinstance(activity.get("props", {}), dict))


def identity(activity: Activity) -> tuple[str, str]:
    """What makes two activities one: the type and the instant (an `at` that is not a
    date-time is compared as given)."""
    when = instant(activity)
    return (str(activity.get("type")), when.isoformat() if when is not None
            else str(activity.get("at")))


def _order(activity: Activity) -> tuple[int, datetime | str]:
    when = instant(activity)
    return (0, when) if when is not None else (1, str(activity.get("at")))


def merge(known: Iterable[Any], new: Iterable[Any]) -> list[Activity]:
    """Known activities plus new ones, each once, in time order (UTC; those whose time
    cannot be read come last), the latest `MAX_ACTIVITIES`. Anything not an object is
    dropped."""
    merged = [a for a in known if isinstance(a, dict)]
    seen = {identity(a) for a in merged}
    for activity in new:
        if isinstance(activity, dict) and identity(activity) not in seen:
            merged.append(activity)
            seen.add(identity(activity))
    merged.sort(key=_order)
    return merged[-MAX_ACTIVITIES:]


def without(activities: Iterable[Any], activity: Activity) -> list[Activity]:
    """The list with `activity` (and any copy of it) taken out."""
    key = identity(activity)
    return [a for a in activities if isinstance(a, dict) and identity(a) != key]


def includes(activities: Iterable[Any], activity: Activity) -> bool:
    key = identity(activity)
    return any(isinstance(a, dict) and identity(a) == key for a in activities)
