"""Merging a person's activities: once per type and instant, in UTC time order."""

from __future__ import annotations

from services.score.handlers import merge_activities


def test_one_instant_is_one_activity_whatever_its_offset_and_order_is_utc() -> None:
    known = [{"type": "site_visit", "at": "2026-11-24T10:00:00+01:00"}]
    new = [{"type": "site_visit", "at": "2026-11-24T09:00:00+00:00"},  # the same instant
           {"type": "site_visit", "at": "2026-11-24T09:30:00Z"},
           {"type": "webinar_attended", "at": "2026-11-24T08:00:00-02:00"},  # 10:00 UTC
           {"type": "email_open", "at": "not a time"},
           "not an activity"]
    merged = merge_activities(known, new)  # type: ignore[arg-type]
    assert [(a["type"], a["at"]) for a in merged] == [
        ("site_visit", "2026-11-24T10:00:00+01:00"),
        ("site_visit", "2026-11-24T09:30:00Z"),
        ("webinar_attended", "2026-11-24T08:00:00-02:00"),
        ("email_open", "not a time"),
    ]
    assert merge_activities(merged, new) == merged  # redelivered: nothing new
